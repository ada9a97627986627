const TITLE_TARGET = 60;
/** A word boundary earlier than this would leave too short a title; cut mid-word instead. */
const TITLE_MIN_AT_BOUNDARY = 40;

/**
 * A session title from its first user message: whitespace collapsed, cut at the last word boundary
 * before ~60 characters, with an ellipsis when anything was cut.
 * e.g. deriveTitle("  Plan the   Q3 launch ") === "Plan the Q3 launch"
 */
export function deriveTitle(content: string): string | null {
  const text = content.replace(/\s+/g, " ").trim();
  if (text.length === 0) return null;
  const chars = Array.from(text);
  if (chars.length <= TITLE_TARGET) return text;
  const head = chars.slice(0, TITLE_TARGET + 1).join("");
  const boundary = head.lastIndexOf(" ");
  const cut =
    boundary >= TITLE_MIN_AT_BOUNDARY ? head.slice(0, boundary) : chars.slice(0, TITLE_TARGET).join("");
  return `${cut.trimEnd()}…`;
}
