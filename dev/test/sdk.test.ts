import {
  FieldType,
  type FullItem,
  GeneratorRecipe,
  ItemBuilder,
  ItemCategory,
  OnePasswordConnect,
  type OPConnect,
} from "@1password/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../src/connect/server.ts";

/** The official SDK against the dev server: what the origin sees when it talks to "1Password". */
const TOKEN = "dev-connect-sdk-test-token";
const UNKNOWN = "zzzzzzzzzzzzzzzzzzzzzzzzzz";

let server: RunningConnectServer;
let op: OPConnect;
let services: string;

beforeAll(async () => {
  server = await startConnectServer({ port: 0, token: TOKEN });
  op = OnePasswordConnect({ serverURL: server.url, token: TOKEN, keepAlive: true });
  services = (await op.getVault("services")).id as string;
});
afterAll(() => server?.close());

const fieldValue = (item: FullItem, label: string) => item.fields?.find((f) => f.label === label)?.value;

/** A title lookup done right: SCIM-escaped value, whole query percent-encoded. */
async function itemIdsByTitle(vaultId: string, title: string): Promise<string[]> {
  const filter = encodeURIComponent(`title eq ${JSON.stringify(title)}`);
  const response = await fetch(`${server.url}/v1/vaults/${vaultId}/items?filter=${filter}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return ((await response.json()) as { id: string }[]).map((item) => item.id);
}

describe("reading with the SDK", () => {
  it("lists the vaults and finds one by title", async () => {
    const names = (await op.listVaults()).map((v) => v.name);
    expect(names).toEqual(["infrastructure", "services", "integrations", "emergency"]);
    expect(await op.getVaultByTitle("integrations")).toMatchObject({ name: "integrations", items: 2 });
    await expect(op.getVaultByTitle("nowhere")).rejects.toEqual({
      status: 404,
      message: "No Vaults found with title",
    });
  });

  it("lists items and reads services/chittyid/service_token by title and by id", async () => {
    const titles = (await op.listItems(services)).map((i) => i.title);
    expect(titles).toContain("chittyid");
    const byTitle = await op.getItemByTitle(services, "chittyid");
    expect(fieldValue(byTitle, "service_token")).toBe("dev-chittyid-service-token-7f3c9a41");
    expect(await op.getItemById(services, byTitle.id as string)).toEqual(byTitle);
    expect(await op.getItem(services, "chittyid")).toEqual(byTitle);
    expect(byTitle.sections).toEqual([{ id: "Section_ugupx24ub5fidbkwadvmodrdca", label: "metadata" }]);
  });

  it("reads the other fixture credentials", async () => {
    const infrastructure = (await op.getVault("infrastructure")).id as string;
    const database = await op.getItemByTitle(infrastructure, "database");
    expect([fieldValue(database, "username"), fieldValue(database, "password")]).toEqual([
      "chitty_dev",
      "dev-database-password-not-secret-51c7",
    ]);
    const integrations = (await op.getVault("integrations")).id as string;
    expect(fieldValue(await op.getItemByTitle(integrations, "stripe"), "secret_key")).toBe(
      "dev-stripe-secret-key-3f9b2c",
    );
    expect(fieldValue(await op.getItemByTitle(services, "chittyauth"), "api_key")).toBe(
      "dev-chittyauth-api-key-2b8e51d0",
    );
  });

  it("finds a title with spaces", async () => {
    const item = await op.getItemByTitle(services, "chittyrouter beta");
    expect(fieldValue(item, "api_key")).toBe("dev-chittyrouter-space-beta-91ae");
  });

  it("turns '+' into a space: getItemByTitle('chittyrouter+beta') returns the 'chittyrouter beta' item", async () => {
    // The SDK does not percent-encode its filter and Connect decodes the query like a form,
    // so the SDK silently reads the wrong item. Encoded properly, the '+' title is found.
    const viaSdk = await op.getItemByTitle(services, "chittyrouter+beta");
    expect(viaSdk.title).toBe("chittyrouter beta");
    const [id] = await itemIdsByTitle(services, "chittyrouter+beta");
    const item = await op.getItemById(services, id as string);
    expect([item.title, fieldValue(item, "api_key")]).toEqual([
      "chittyrouter+beta",
      "dev-chittyrouter-plus-beta-5c0d",
    ]);
  });

  it("cannot look up a title with double quotes: the SDK's unescaped filter is a 400", async () => {
    await expect(op.getItemByTitle(services, 'chittyid "legacy"')).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^Invalid filter query/),
    });
    const [id] = await itemIdsByTitle(services, 'chittyid "legacy"');
    expect(fieldValue(await op.getItemById(services, id as string), "service_token")).toBe(
      "dev-chittyid-legacy-token-0e6f",
    );
  });

  it("treats an id-looking title as an id in getItem, but not in getItemByTitle", async () => {
    const title = "abcdefghijklmnopqrstuvwxyz";
    const byTitle = await op.getItemByTitle(services, title);
    expect([byTitle.title, fieldValue(byTitle, "api_key")]).toEqual([title, "dev-id-looking-title-4d27"]);
    // getItem sees 26 lowercase characters and fetches by id: a different item.
    const byQuery = await op.getItem(services, title);
    expect([byQuery.id, byQuery.title]).toEqual([title, "chittyledger"]);
  });

  it("reports an ambiguous title as the SDK's 400, while listItemsByTitle returns both", async () => {
    await expect(op.getItemByTitle(services, "chittychat")).rejects.toEqual({
      status: 400,
      message: "Found multiple Items with given title. Provide a more specific Item title",
    });
    const both = await op.listItemsByTitle(services, "chittychat");
    expect(both.map((i) => fieldValue(i, "bot_token")).sort()).toEqual([
      "dev-chittychat-bot-token-primary-3a70",
      "dev-chittychat-bot-token-secondary-c81d",
    ]);
  });

  it("answers 401 to a wrong token and 404 to unknown ids", async () => {
    const intruder = OnePasswordConnect({ serverURL: server.url, token: "not-the-token", keepAlive: true });
    await expect(intruder.listVaults()).rejects.toEqual({ status: 401, message: "Invalid token signature" });
    await expect(op.getItemById(services, UNKNOWN)).rejects.toEqual({
      status: 404,
      message: `item ${UNKNOWN} not found`,
    });
    await expect(op.getVaultById(UNKNOWN)).rejects.toEqual({
      status: 404,
      message: `vault ${UNKNOWN} not found`,
    });
    await expect(op.getItemByTitle(services, "nothing")).rejects.toEqual({
      status: 404,
      message: "No Items found with title",
    });
  });
});

describe("writing with the SDK", () => {
  it("creates an item with a generated field, rotates it with updateItem, then deletes it", async () => {
    const draft = new ItemBuilder()
      .setCategory(ItemCategory.APICredential)
      .setTitle("rotation test")
      .addField({
        label: "api_key",
        type: FieldType.Concealed,
        sectionName: "credentials",
        generate: true,
        recipe: { length: 40, characterSets: [GeneratorRecipe.CharacterSetsEnum.Digits] },
      })
      .addField({ label: "owner", value: "dev" })
      .build();
    const created = await op.createItem(services, draft);
    const first = fieldValue(created, "api_key") as string;
    expect(first).toMatch(/^\d{40}$/);
    expect(created.version).toBe(1);
    const reread = await op.getItemByTitle(services, "rotation test");
    expect(fieldValue(reread, "api_key")).toBe(first);
    expect(fieldValue(reread, "owner")).toBe("dev");

    const apiKey = reread.fields?.find((f) => f.label === "api_key");
    if (!apiKey) throw new Error("api_key missing");
    apiKey.generate = true;
    apiKey.recipe = {
      length: 24,
      characterSets: [GeneratorRecipe.CharacterSetsEnum.Letters],
      excludeCharacters: "lIO0",
    };
    const rotated = await op.updateItem(services, reread);
    const second = fieldValue(rotated, "api_key") as string;
    expect(second).toMatch(/^[A-HJ-NP-Za-km-z]{24}$/);
    expect(rotated.version).toBe(2);
    expect(rotated.fields?.find((f) => f.label === "api_key")?.id).toBe(apiKey.id);
    expect(fieldValue(await op.getItemById(services, created.id as string), "api_key")).toBe(second);
    expect(
      server.store.item(services, created.id as string).fields.find((f) => f.label === "api_key")?.value,
    ).toBe(second);

    await op.deleteItem(services, created.id as string);
    await expect(op.getItemById(services, created.id as string)).rejects.toMatchObject({ status: 404 });
  });
});
