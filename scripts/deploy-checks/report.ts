/** One section of the deploy check: what is wrong (blocks a deploy) and what looks risky. */
export interface SectionResult {
  name: string;
  errors: string[];
  warnings: string[];
}

export function section(name: string): SectionResult {
  return { name, errors: [], warnings: [] };
}

export function isValid(result: SectionResult): boolean {
  return result.errors.length === 0;
}

/** Plain-text report: one block per section, then totals. */
export function formatReport(sections: readonly SectionResult[]): string {
  const lines: string[] = [];
  for (const result of sections) {
    const verdict = isValid(result) ? "valid" : "invalid";
    const warned = result.warnings.length > 0 ? ` (${result.warnings.length} warning(s))` : "";
    lines.push(`[${result.name}] ${verdict}${warned}`);
    for (const error of result.errors) lines.push(`  error:   ${error}`);
    for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  }
  const invalid = sections.filter((result) => !isValid(result)).length;
  const warnings = sections.reduce((sum, result) => sum + result.warnings.length, 0);
  lines.push(
    `Totals: ${sections.length - invalid} valid, ${invalid} invalid, ${warnings} warning(s) in ${sections.length} section(s)`,
  );
  return `${lines.join("\n")}\n`;
}
