import { createHash } from "node:crypto";

import { afterEach, describe, expect, it } from "vitest";

import { createTestClock } from "../test-support/clock.js";
import { storeBackends } from "../test-support/stores.js";
import type { Store } from "./index.js";

describe.each(storeBackends())("token repository on $name", (backend) => {
  const clock = createTestClock("2025-02-02T10:00:00.000Z");
  let store: Store;

  afterEach(async () => {
    await store.close();
  });

  it("creates a token whose secret is shown once and stored only as its SHA-256", async () => {
    store = await backend.open({ now: clock.now });
    const { token, record } = await store.tokens.create({ name: "ci", role: "operator", createdBy: "ana" });

    expect(token).toMatch(/^slw_[A-Za-z0-9_-]{43}$/);
    expect(record).toEqual({
      id: expect.stringMatching(/^tok_[a-z2-7]{10}$/),
      name: "ci",
      role: "operator",
      prefix: token.slice(4, 12),
      createdAt: "2025-02-02T10:00:00.000Z",
      createdBy: "ana",
      lastUsedAt: null,
      revokedAt: null,
    });

    const rows = await backend.query(store, "select * from tokens");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(createHash("sha256").update(token).digest("hex"));
    const everything = JSON.stringify([rows, await backend.query(store, "select * from events")]);
    expect(everything).not.toContain(token.slice(4));

    const [created] = await store.events.list({ types: ["token."] });
    expect(created).toMatchObject({
      type: "token.created",
      actor: "ana",
      objectKind: "token",
      objectName: record.id,
      payload: { id: record.id, name: "ci", role: "operator" },
    });
  });

  it("verifies a valid secret and refuses wrong, malformed and revoked ones", async () => {
    store = await backend.open({ now: clock.now });
    const { token, record } = await store.tokens.create({ name: "ci", role: "viewer", createdBy: "ana" });
    const other = await store.tokens.create({ name: "other", role: "admin", createdBy: "ana" });

    expect(await store.tokens.verify(token)).toMatchObject({ id: record.id, role: "viewer" });
    expect(await store.tokens.verify(other.token)).toMatchObject({ id: other.record.id, role: "admin" });
    const flipped = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
    expect(await store.tokens.verify(flipped)).toBeUndefined();
    expect(await store.tokens.verify("slw_nope")).toBeUndefined();
    expect(await store.tokens.verify("")).toBeUndefined();
    expect(await store.tokens.verify(token.slice(4))).toBeUndefined();

    await store.tokens.revoke(record.id, "ana");
    expect(await store.tokens.verify(token)).toBeUndefined();
    expect(await store.tokens.verify(other.token)).toBeDefined();
  });

  it("touches lastUsedAt at most once a minute", async () => {
    store = await backend.open({ now: clock.now });
    const { token, record } = await store.tokens.create({ name: "ci", role: "viewer", createdBy: "ana" });
    const lastUsed = async () => (await store.tokens.list()).find((t) => t.id === record.id)!.lastUsedAt;

    clock.set("2025-02-02T11:00:00.000Z");
    expect((await store.tokens.verify(token))!.lastUsedAt).toBe("2025-02-02T11:00:00.000Z");
    clock.advance(59_000);
    expect((await store.tokens.verify(token))!.lastUsedAt).toBe("2025-02-02T11:00:00.000Z");
    expect(await lastUsed()).toBe("2025-02-02T11:00:00.000Z");
    clock.advance(1_000);
    expect((await store.tokens.verify(token))!.lastUsedAt).toBe("2025-02-02T11:01:00.000Z");
    expect(await lastUsed()).toBe("2025-02-02T11:01:00.000Z");
  });

  it("revokes once, returns the record on a second revoke, and says not_found for unknown ids", async () => {
    store = await backend.open({ now: clock.now });
    const { record } = await store.tokens.create({ name: "ci", role: "operator", createdBy: "ana" });
    clock.advance(5_000);
    const revoked = await store.tokens.revoke(record.id, "bob");
    expect(revoked).toEqual({ ...record, revokedAt: new Date(clock.now()).toISOString() });
    clock.advance(5_000);
    expect(await store.tokens.revoke(record.id, "bob")).toEqual(revoked);

    const events = await store.events.list({ types: ["token.revoked"] });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: "bob",
      payload: { id: record.id, name: "ci", role: "operator" },
    });
    await expect(store.tokens.revoke("tok_unknown000", "bob")).rejects.toMatchObject({ code: "not_found" });
  });

  it("lists every token and counts revoked ones too", async () => {
    store = await backend.open({ now: clock.now });
    expect(await store.tokens.count()).toBe(0);
    const first = await store.tokens.create({ name: "one", role: "admin", createdBy: "setup" });
    clock.advance(1_000);
    await store.tokens.create({ name: "two", role: "viewer", createdBy: "setup" });
    await store.tokens.revoke(first.record.id, "setup");

    expect((await store.tokens.list()).map((t) => [t.name, t.revokedAt !== null])).toEqual([
      ["one", true],
      ["two", false],
    ]);
    expect(await store.tokens.count()).toBe(2);
  });

  it("refuses a token without a name or with an unknown role", async () => {
    store = await backend.open({ now: clock.now });
    await expect(store.tokens.create({ name: "", role: "admin", createdBy: "a" })).rejects.toMatchObject({
      code: "invalid_request",
    });
    const role = "root" as unknown as "admin";
    await expect(store.tokens.create({ name: "x", role, createdBy: "a" })).rejects.toMatchObject({
      code: "invalid_request",
    });
    expect(await store.tokens.count()).toBe(0);
  });
});
