import { describe, expect, it } from "vitest";
import { json, newOwner } from "./sessions-helpers.ts";

describe("smoke", () => {
  it("creates and reads", async () => {
    const a = await newOwner();
    const created = await json<{ id: string }>(await a.send("POST", "/api/v1/sessions", { title: "x" }), 201);
    const read = await json<{ id: string }>(await a.get(`/api/v1/sessions/${created.id}`), 200);
    expect(read.id).toBe(created.id);
  });
});
