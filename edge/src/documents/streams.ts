/** Reads until at least `n` bytes (or the end) are in hand; returns them and the whole stream again. */
export async function peek(
  stream: ReadableStream<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const next = await reader.read();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    have += next.value.byteLength;
  }
  const head = new Uint8Array(have);
  let offset = 0;
  for (const chunk of chunks) {
    head.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let replayed = false;
  const replay = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!replayed) {
        replayed = true;
        if (head.byteLength > 0) {
          controller.enqueue(head.slice());
          return;
        }
      }
      if (done) {
        controller.close();
        return;
      }
      try {
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { head, stream: replay };
}

export interface Hashed {
  stream: ReadableStream<Uint8Array>;
  /** Hex SHA-256 of everything that passed through, once the stream has ended. */
  sha256: Promise<string>;
}

/** Computes SHA-256 on the way through, in workerd's native DigestStream (no buffering). */
export function hashing(stream: ReadableStream<Uint8Array>): Hashed {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      await writer.write(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      await writer.close();
    },
  });
  const sha256 = digest.digest.then(hex);
  // A broken upload rejects this too; the caller reports the stream's error, not this one.
  sha256.catch(() => undefined);
  return { stream: stream.pipeThrough(transform), sha256 };
}

export function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Gives R2 the known length it needs; a body shorter or longer than `length` errors the put. */
export function withLength(stream: ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array> {
  return stream.pipeThrough(new FixedLengthStream(length));
}
