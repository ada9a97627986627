import { type VerifyJob, verifyAndIndex } from "./verify-job.ts";

/**
 * Child-process entry for a large log's start-up verification (see AuditLog.open): the job comes
 * over IPC (the key never appears in argv or the environment), the result goes back the same way.
 * In its own process, the memory a pass over millions of lines touches is returned to the system
 * when it exits; in the origin (or a worker thread, whose malloc arenas outlive it) it would stay.
 */
process.once("message", (job: VerifyJob) => {
  verifyAndIndex(job).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(
        `audit verification failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    },
  );
});
