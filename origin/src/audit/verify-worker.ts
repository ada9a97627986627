import { parentPort, workerData } from "node:worker_threads";
import { type VerifyJob, verifyAndIndex } from "./verify-job.ts";

/**
 * Worker-thread entry for a large log's start-up verification: the garbage of a pass over millions
 * of lines lives and dies with the worker's heap instead of growing the origin's for good.
 */
parentPort?.postMessage(await verifyAndIndex(workerData as VerifyJob));
