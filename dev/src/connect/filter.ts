/**
 * The subset of SCIM filters Connect answers on its collections: `<attribute> <op> "<value>"`
 * with `eq` (exact) or `co` (contains, used by the SDK's listItemsByTitleContains). The value is
 * a JSON string, as in SCIM (RFC 7644 §3.4.2.2): `\"` and `\\` escape, anything else is literal.
 * Attribute and operator names are case-insensitive; values compare case-sensitively.
 */
export type FilterOperator = "eq" | "co";

export interface Filter {
  attribute: string;
  operator: FilterOperator;
  value: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

const EXPRESSION = /^\s*([A-Za-z][\w.]*)\s+([A-Za-z]+)\s+(.*)$/s;

export function parseFilter(text: string): Parsed<Filter> {
  const match = EXPRESSION.exec(text);
  if (!match) return fail(`expected <attribute> <operator> "<value>", got ${JSON.stringify(text)}`);
  const [, attribute = "", rawOperator = "", rest = ""] = match;
  const operator = rawOperator.toLowerCase();
  if (operator !== "eq" && operator !== "co") {
    return fail(`unsupported operator "${rawOperator}" (supported: eq, co)`);
  }
  if (!rest.startsWith('"')) return fail("the value must be a double-quoted string");
  let end = 1;
  while (end < rest.length && rest[end] !== '"') end += rest[end] === "\\" ? 2 : 1;
  if (end >= rest.length) return fail("the quoted value is not terminated");
  const trailing = rest.slice(end + 1);
  if (trailing.trim() !== "") {
    return fail(
      `unexpected ${JSON.stringify(trailing.trim())} after the quoted value (escape inner quotes as \\")`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(rest.slice(0, end + 1));
  } catch {
    return fail("the quoted value has an invalid escape or a raw control character");
  }
  return { ok: true, value: { attribute: attribute.toLowerCase(), operator, value: value as string } };
}

/** For each attribute a collection can be filtered on, the strings of a row it compares against. */
export type FilterAttributes<T> = Record<string, (row: T) => readonly string[]>;

/** Applies an optional `filter` query value; absent or empty means no filtering, as in Connect. */
export function filterRows<T>(
  rows: readonly T[],
  text: string | null,
  attributes: FilterAttributes<T>,
): Parsed<T[]> {
  if (!text) return { ok: true, value: [...rows] };
  const parsed = parseFilter(text);
  if (!parsed.ok) return parsed;
  const { attribute, operator, value } = parsed.value;
  const read = Object.hasOwn(attributes, attribute) ? attributes[attribute] : undefined;
  if (!read) {
    return fail(`cannot filter on "${attribute}" (supported: ${Object.keys(attributes).join(", ")})`);
  }
  const test = operator === "eq" ? (s: string) => s === value : (s: string) => s.includes(value);
  return { ok: true, value: rows.filter((row) => read(row).some(test)) };
}
