/**
 * A comma-separated configuration value (`CORS_ORIGINS`, `ALLOWED_PEERS`, …) as its entries, each
 * trimmed, empty ones dropped: `"a, b,,"` → `["a", "b"]`; unset or blank → `[]`. Both sides read their
 * lists this way, so one spelling of a list means the same to the edge and the origin.
 */
export function commaList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}
