import { statSync } from "node:fs";
import { writePrivateFile } from "./config.ts";
import { UsageError } from "./output.ts";
import { TEMPLATE_REFERENCE } from "./references.ts";

/** Templates are configuration files, not data: anything larger is a mistake. */
export const MAX_TEMPLATE_BYTES = 1024 * 1024;

/** The reference texts in a template, in order of appearance. */
export function templateReferences(template: string): string[] {
  return [...template.matchAll(TEMPLATE_REFERENCE)].map((match) => match[1] as string);
}

/** The template with each `{{ chittyconnect://… }}` replaced by its value. */
export function renderTemplate(template: string, values: ReadonlyMap<string, string>): string {
  return template.replace(TEMPLATE_REFERENCE, (_, text: string) => {
    const value = values.get(text);
    if (value === undefined) throw new Error("a reference was not resolved");
    return value;
  });
}

/**
 * Writes the rendered file 0600 (temp file + rename, so a reader never sees half of it), refusing to
 * replace a file others may read unless `force`: its owner chose those permissions, and the new content
 * holds secrets.
 */
export function writeRendered(file: string, text: string, force: boolean): void {
  let mode: number | undefined;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (mode !== undefined && (mode & 0o077) !== 0 && !force) {
    throw new UsageError(
      `${file} exists with mode ${(mode & 0o777).toString(8)}, readable by others; the output holds secrets (--force replaces it with a 0600 file)`,
    );
  }
  writePrivateFile(file, text);
}
