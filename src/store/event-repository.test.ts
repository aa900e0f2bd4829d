import { afterEach, describe, expect, it } from "vitest";

import { createTestClock } from "../test-support/clock.js";
import { storeBackends } from "../test-support/stores.js";
import { waitFor } from "../test-support/wait-for.js";
import { SlipwayError } from "../util/index.js";
import type { Store, StoredEvent } from "./index.js";

async function appendMany(store: Store, types: string[]): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  for (const type of types) stored.push(await store.events.append({ type, actor: "test" }));
  return stored;
}

describe.each(storeBackends())("event repository on $name", (backend) => {
  const clock = createTestClock("2025-05-05T05:05:05.005Z");
  let store: Store;

  afterEach(async () => {
    await store.close();
  });

  it("appends an event with an id, the injected time and a null payload by default", async () => {
    store = await backend.open({ now: clock.now });
    const event = await store.events.append({
      type: "service.deployed",
      actor: "ci",
      objectKind: "service",
      objectName: "web",
    });
    expect(event).toEqual({
      id: expect.any(Number),
      at: "2025-05-05T05:05:05.005Z",
      type: "service.deployed",
      actor: "ci",
      objectKind: "service",
      objectName: "web",
      payload: null,
    });
    const withPayload = await store.events.append({
      type: "alert.fired",
      actor: "x",
      payload: { n: 1, tags: ["a"] },
    });
    expect(withPayload.id).toBeGreaterThan(event.id);
    expect(await store.events.list()).toEqual([
      event,
      { ...withPayload, objectKind: null, objectName: null },
    ]);
  });

  it("lists the newest events oldest first, and pages forward from a cursor without skipping", async () => {
    store = await backend.open({ now: clock.now });
    const all = await appendMany(
      store,
      Array.from({ length: 12 }, (_, i) => `test.e${i}`),
    );
    const ids = all.map((e) => e.id);

    expect((await store.events.list({ limit: 3 })).map((e) => e.id)).toEqual(ids.slice(9));
    expect((await store.events.list({ after: ids[4], limit: 3 })).map((e) => e.id)).toEqual(ids.slice(5, 8));
    expect((await store.events.list({ after: ids[11] })).map((e) => e.id)).toEqual([]);

    const paged: number[] = [];
    for (let after = 0; ;) {
      const page = await store.events.list({ after, limit: 5 });
      if (page.length === 0) break;
      paged.push(...page.map((e) => e.id));
      after = page.at(-1)!.id;
    }
    expect(paged).toEqual(ids);
  });

  it("returns 100 events by default and never more than 1000", async () => {
    store = await backend.open({ now: clock.now });
    await appendMany(
      store,
      Array.from({ length: 105 }, () => "bulk.added"),
    );
    expect(await store.events.list()).toHaveLength(100);
    expect(await store.events.list({ limit: 5000 })).toHaveLength(105);
    const error = await store.events.list({ limit: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlipwayError);
    expect((error as SlipwayError).code).toBe("invalid_request");
  });

  it("filters by exact, case-sensitive type prefixes", async () => {
    store = await backend.open({ now: clock.now });
    await appendMany(store, [
      "config.applied",
      "token.created",
      "token.revoked",
      "configx.odd",
      "service.created",
      "Config.upper",
    ]);
    const types = async (prefixes: string[]) =>
      (await store.events.list({ types: prefixes })).map((e) => e.type);

    expect(await types(["config."])).toEqual(["config.applied"]);
    expect(await types(["config.", "token.created"])).toEqual(["config.applied", "token.created"]);
    expect(await types(["token."])).toEqual(["token.created", "token.revoked"]);
    expect(await types(["config"])).toEqual(["config.applied", "configx.odd"]);
    expect(await types(["nothing."])).toEqual([]);
    expect(await types(["%", "_"])).toEqual([]);
    expect(await types([])).toHaveLength(6);
  });

  it("tells subscribers about events only after they are committed, in id order", async () => {
    store = await backend.open({ now: clock.now });
    const reader = await backend.open({ sameDatabaseAs: store });
    const received: StoredEvent[] = [];
    const visibleToOthers: Promise<boolean>[] = [];
    store.events.subscribe((event) => {
      received.push(event);
      // A second connection only sees committed rows: if it sees the event, the commit came first.
      visibleToOthers.push(
        reader.events.list({ after: event.id - 1, limit: 1 }).then((l) => l[0]?.id === event.id),
      );
    });

    const revision = await store.config.apply({
      baseRevision: 0,
      author: "ana",
      sourceFile: "s.yaml",
      sourceHash: "h",
      source: "",
      changes: ["a", "b", "c"].map((name) => ({
        action: "create" as const,
        kind: "service" as const,
        name,
        spec: {},
      })),
      summary: { add: 3, change: 0, delete: 0 },
    });
    await store.events.append({ type: "test.after", actor: "t" });

    expect(revision.revision).toBe(1);
    expect(received.map((e) => e.type)).toEqual([
      "service.created",
      "service.created",
      "service.created",
      "config.applied",
      "test.after",
    ]);
    const ids = received.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(await Promise.all(visibleToOthers)).toEqual([true, true, true, true, true]);
    await reader.close();
  });

  it("tells subscribers nothing about a transaction that rolled back", async () => {
    store = await backend.open({ now: clock.now });
    const received: StoredEvent[] = [];
    store.events.subscribe((event) => received.push(event));
    const failing = store.config.apply({
      baseRevision: 0,
      author: "ana",
      sourceFile: "s.yaml",
      sourceHash: "h",
      source: "",
      // The second change fails after the first was written and its events were about to be recorded.
      changes: [
        { action: "create", kind: "service", name: "web", spec: {} },
        { action: "delete", kind: "service", name: "ghost" },
      ],
      summary: { add: 1, change: 0, delete: 1 },
    });
    await expect(failing).rejects.toMatchObject({ code: "stale_plan" });
    const stale = store.config.apply({
      baseRevision: 7,
      author: "ana",
      sourceFile: "s.yaml",
      sourceHash: "h",
      source: "",
      changes: [],
      summary: { add: 0, change: 0, delete: 0 },
    });
    await expect(stale).rejects.toMatchObject({ code: "stale_plan" });
    expect(received).toEqual([]);
    expect(await store.events.list()).toEqual([]);
  });

  it("keeps delivering when a listener throws or rejects, and reports it", async () => {
    const reported: string[] = [];
    store = await backend.open({
      now: clock.now,
      onListenerError: (error, event) => reported.push(`${event.type}: ${(error as Error).message}`),
    });
    const received: string[] = [];
    store.events.subscribe(() => {
      throw new Error("boom");
    });
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- proving an async listener is safe too
    store.events.subscribe(async () => {
      await Promise.resolve();
      throw new Error("async boom");
    });
    store.events.subscribe((event) => received.push(event.type));

    await expect(store.events.append({ type: "test.one", actor: "t" })).resolves.toMatchObject({
      type: "test.one",
    });
    await store.events.append({ type: "test.two", actor: "t" });
    // The async listener's rejections are reported a microtask or two after publishing.
    await waitFor(() => reported.length >= 4, { what: "four listener errors reported" });

    expect(received).toEqual(["test.one", "test.two"]);
    expect(reported.sort()).toEqual([
      "test.one: async boom",
      "test.one: boom",
      "test.two: async boom",
      "test.two: boom",
    ]);
  });

  it("stops delivering after unsubscribe", async () => {
    store = await backend.open({ now: clock.now });
    const received: string[] = [];
    const unsubscribe = store.events.subscribe((event) => received.push(event.type));
    await store.events.append({ type: "test.one", actor: "t" });
    unsubscribe();
    await store.events.append({ type: "test.two", actor: "t" });
    expect(received).toEqual(["test.one"]);
  });

  it("refuses an event without a type or actor", async () => {
    store = await backend.open({ now: clock.now });
    await expect(store.events.append({ type: "", actor: "t" })).rejects.toMatchObject({
      code: "invalid_request",
    });
    await expect(store.events.append({ type: "test.x", actor: " " })).rejects.toMatchObject({
      code: "invalid_request",
    });
  });
});
