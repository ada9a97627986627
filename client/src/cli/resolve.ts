import type { ChittyClient } from "../client.ts";
import { UsageError } from "./output.ts";
import { credentialPath, parseReference, type SecretReference } from "./references.ts";

export interface Defaults {
  service?: string | undefined;
  purpose: string;
  seal: boolean;
}

/** At most this many provision calls at once, so a file of 100 references does not burst the edge. */
const CONCURRENCY = 8;
/** A bound on one run or template, far above real use, so a runaway file cannot flood the audit log. */
export const MAX_REFERENCES = 200;

function key(reference: Required<Pick<SecretReference, "service" | "purpose">> & SecretReference): string {
  return JSON.stringify([reference.service, reference.purpose, credentialPath(reference)]);
}

/**
 * Resolves references (each text parsed, missing `service`/`purpose` taken from `defaults`), one call
 * per distinct (service, purpose, path), at most `CONCURRENCY` at a time. Returns text → value.
 */
export async function resolveReferences(
  client: ChittyClient,
  texts: Iterable<string>,
  defaults: Defaults,
): Promise<Map<string, string>> {
  const unique = [...new Set(texts)];
  if (unique.length > MAX_REFERENCES) throw new UsageError(`more than ${MAX_REFERENCES} distinct references`);
  const parsed = unique.map((text) => {
    const reference = parseReference(text);
    const service = reference.service ?? defaults.service;
    if (!service) {
      throw new UsageError(
        `${credentialPath(reference)}: no service (add ?service=… to the reference, --service, or CHITTYCONNECT_SERVICE)`,
      );
    }
    return { text, reference: { ...reference, service, purpose: reference.purpose ?? defaults.purpose } };
  });
  const calls = new Map<string, Promise<string>>();
  const queue: (() => void)[] = [];
  let active = 0;
  const limited = <T>(work: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const start = () => {
        active++;
        work()
          .then(resolve, reject)
          .finally(() => {
            active--;
            queue.shift()?.();
          });
      };
      if (active < CONCURRENCY) start();
      else queue.push(start);
    });
  for (const { reference } of parsed) {
    const id = key(reference);
    if (calls.has(id)) continue;
    calls.set(
      id,
      limited(async () => {
        const credential = await client.credentials.provision({
          service: reference.service,
          credentialPath: credentialPath(reference),
          purpose: reference.purpose,
          seal: defaults.seal,
        });
        return credential.value;
      }),
    );
  }
  const values = new Map<string, string>();
  for (const { text, reference } of parsed)
    values.set(text, await (calls.get(key(reference)) as Promise<string>));
  return values;
}
