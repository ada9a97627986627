/** Adds `value` to the response's `Vary` unless it is already named there. */
export function appendVary(headers: Headers, value: string): void {
  const current = headers.get("vary");
  if (!current) headers.set("vary", value);
  else if (
    !current
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(value.toLowerCase())
  ) {
    headers.set("vary", `${current}, ${value}`);
  }
}
