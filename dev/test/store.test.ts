import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectError } from "../src/connect/errors.ts";
import { loadFixture } from "../src/connect/fixture.ts";
import { parseItemInput } from "../src/connect/items.ts";
import { CHARACTER_SETS, ID_PATTERN } from "../src/connect/model.ts";
import { generateValue, newId } from "../src/connect/random.ts";
import { ConnectStore } from "../src/connect/store.ts";

const SERVICES = "a3szkwc3qjcez3b4djjrhp4n6q";
const CHITTYID = "ok7dfqy6arvsuwoqbuvsc2vqv5";

function storeWithClock() {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const store = new ConnectStore(loadFixture(), () => new Date(now));
  return { store, advance: (ms: number) => (now += ms) };
}

const rejectsWith = (run: () => unknown, status: number, message: RegExp) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).body).toEqual({ status, message: expect.stringMatching(message) });
    return;
  }
  throw new Error("expected a ConnectError");
};

describe("ConnectStore", () => {
  it("replaces an item: version +1, updatedAt moves, createdAt and field ids stay, the vault's contentVersion moves", () => {
    const { store, advance } = storeWithClock();
    const before = store.item(SERVICES, CHITTYID);
    advance(60_000);
    const input = parseItemInput({
      id: CHITTYID,
      title: "chittyid",
      category: "API_CREDENTIAL",
      fields: [...before.fields.map((f) => ({ ...f })), { label: "added", value: "x" }],
      sections: before.sections,
    });
    const after = store.replaceItem(SERVICES, CHITTYID, input);
    expect(after.version).toBe(2);
    expect(after.createdAt).toEqual(before.createdAt);
    expect(after.updatedAt.toISOString()).toBe("2026-01-01T00:01:00.000Z");
    expect(after.fields.slice(0, 3).map((f) => f.id)).toEqual(before.fields.map((f) => f.id));
    expect(after.fields[3]?.id).toMatch(ID_PATTERN);
    expect(store.vault(SERVICES)).toMatchObject({ contentVersion: 2, updatedAt: after.updatedAt });
  });

  it("creates and deletes, keeping the vault's item count", () => {
    const { store } = storeWithClock();
    const created = store.createItem(SERVICES, parseItemInput({ title: "new", category: "PASSWORD" }));
    expect(created.id).toMatch(ID_PATTERN);
    expect(store.vault(SERVICES).items.size).toBe(10);
    store.deleteItem(SERVICES, created.id);
    expect(store.vault(SERVICES).items.size).toBe(9);
    rejectsWith(() => store.deleteItem(SERVICES, created.id), 404, /^item .* not found$/);
  });

  it("rejects bodies 1Password would refuse", () => {
    const { store } = storeWithClock();
    const item = (body: object) => () =>
      store.createItem(SERVICES, parseItemInput({ category: "LOGIN", ...body }));
    rejectsWith(item({ category: "NOPE" }), 400, /^Invalid item category$/);
    rejectsWith(item({ vault: { id: "pigh4qbvr4rej75ffhdhv2tx4v" } }), 400, /does not match vault/);
    rejectsWith(item({ fields: [{ id: "a", type: "STRING" }, { id: "a" }] }), 400, /duplicate field id a/);
    rejectsWith(item({ fields: [{ section: { id: "nope" } }] }), 400, /doesn't have a nope section/);
    rejectsWith(item({ fields: [{ type: "PHOTO" }] }), 400, /^Invalid item: fields\.0\.type/);
    rejectsWith(item({ fields: [{ generate: true, recipe: { length: 65 } }] }), 400, /recipe\.length/);
    rejectsWith(
      item({
        fields: [{ generate: true, recipe: { characterSets: ["DIGITS"], excludeCharacters: "0123456789" } }],
      }),
      400,
      /no characters/,
    );
    rejectsWith(
      () => store.replaceItem(SERVICES, CHITTYID, parseItemInput({ id: "x", category: "LOGIN" })),
      400,
      /id x/,
    );
  });

  it("accepts lowercase field types, as the spec's own examples write them", () => {
    expect(parseItemInput({ category: "LOGIN", fields: [{ type: "concealed" }] }).fields[0]?.type).toBe(
      "CONCEALED",
    );
  });
});

describe("loadFixture", () => {
  it("names the file and the problem", () => {
    const dir = mkdtempSync(join(tmpdir(), "connect-fixture-"));
    const file = join(dir, "vault.json");
    writeFileSync(file, JSON.stringify({ vaults: [{ id: "short", name: "x", items: [] }] }));
    expect(() => loadFixture(file)).toThrow(/vault\.json is not valid:\n {2}- vaults\.0\.id: must be 26/);
    writeFileSync(file, "{");
    expect(() => loadFixture(file)).toThrow(/cannot read the Connect fixture/);
  });
});

describe("generated values", () => {
  const recipeArb = fc.record({
    length: fc.integer({ min: 1, max: 64 }),
    characterSets: fc.uniqueArray(fc.constantFrom(...CHARACTER_SETS), { maxLength: 3 }),
    excludeCharacters: fc.string({ unit: "grapheme-ascii", maxLength: 5 }),
  });

  it("honour the recipe: length, only allowed characters, every set present when it fits", () => {
    const pools = { LETTERS: /[A-Za-z]/, DIGITS: /\d/, SYMBOLS: /[^A-Za-z\d]/ };
    fc.assert(
      fc.property(recipeArb, (recipe) => {
        const sets = recipe.characterSets.length > 0 ? recipe.characterSets : CHARACTER_SETS;
        const value = generateValue(recipe);
        const chars = [...value];
        expect(chars).toHaveLength(recipe.length);
        for (const char of chars) {
          expect(recipe.excludeCharacters).not.toContain(char);
          expect(sets.some((set) => pools[set].test(char))).toBe(true);
        }
        if (recipe.excludeCharacters === "" && recipe.length >= sets.length) {
          for (const set of sets) expect(chars.some((char) => pools[set].test(char))).toBe(true);
        }
      }),
    );
  });

  it("ids look like 1Password's and do not repeat", () => {
    const ids = Array.from({ length: 1000 }, newId);
    for (const id of ids) expect(id).toMatch(/^[a-z2-7]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
