import { afterEach, describe, expect, it } from "vitest";

import { createTestClock } from "../test-support/clock.js";
import { storeBackends } from "../test-support/stores.js";
import { SlipwayError } from "../util/index.js";
import type { ApplyInput, ObjectChangeInput, Store } from "./index.js";

function applyInput(baseRevision: number, changes: ObjectChangeInput[], author = "ana"): ApplyInput {
  const count = (action: ObjectChangeInput["action"]) => changes.filter((c) => c.action === action).length;
  return {
    baseRevision,
    author,
    sourceFile: "slipway.yaml",
    sourceHash: `sha256:${baseRevision}-${author}`,
    source: `# revision ${baseRevision + 1} by ${author}\n`,
    gitCommit: baseRevision === 0 ? "abc123" : undefined,
    changes,
    summary: { add: count("create"), change: count("update"), delete: count("delete") },
  };
}

const createService = (name: string, instances: number): ObjectChangeInput => ({
  action: "create",
  kind: "service",
  name,
  spec: { run: { command: "node server.js", instances } },
});

async function rejection(promise: Promise<unknown>): Promise<SlipwayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SlipwayError);
  return error as SlipwayError;
}

describe.each(storeBackends())("config repository on $name", (backend) => {
  const clock = createTestClock("2025-03-01T12:00:00.000Z");
  let store: Store;

  afterEach(async () => {
    await store.close();
  });

  it("starts empty at revision 0", async () => {
    store = await backend.open({ now: clock.now });
    expect(await store.config.currentRevision()).toBe(0);
    expect(await store.config.listObjects()).toEqual([]);
    expect(await store.config.listRevisions()).toEqual([]);
  });

  it("creates, updates and deletes objects, with one event per change plus config.applied", async () => {
    store = await backend.open({ now: clock.now });
    const first = await store.config.apply(
      applyInput(0, [
        createService("web", 2),
        { action: "create", kind: "project", name: "shop", spec: { owner: "ana" } },
      ]),
    );
    expect(first).toEqual({
      revision: 1,
      author: "ana",
      createdAt: "2025-03-01T12:00:00.000Z",
      sourceFile: "slipway.yaml",
      sourceHash: "sha256:0-ana",
      gitCommit: "abc123",
      summary: { add: 2, change: 0, delete: 0 },
    });

    clock.advance(60_000);
    const second = await store.config.apply(
      applyInput(1, [
        {
          action: "update",
          kind: "service",
          name: "web",
          spec: { run: { instances: 3 } },
          fields: { "run.instances": [2, 3] },
        },
        { action: "delete", kind: "project", name: "shop" },
        { action: "create", kind: "environment", name: "prod", spec: {} },
      ]),
    );
    expect(second.revision).toBe(2);
    expect(second.createdAt).toBe("2025-03-01T12:01:00.000Z");
    expect(second.gitCommit).toBeNull();

    expect(await store.config.currentRevision()).toBe(2);
    expect(await store.config.listObjects()).toEqual([
      { kind: "environment", name: "prod", spec: {}, revision: 2 },
      { kind: "service", name: "web", spec: { run: { instances: 3 } }, revision: 2 },
    ]);

    const events = await store.events.list();
    expect(events.map((e) => [e.type, e.objectKind, e.objectName])).toEqual([
      ["service.created", "service", "web"],
      ["project.created", "project", "shop"],
      ["config.applied", null, null],
      ["service.updated", "service", "web"],
      ["project.deleted", "project", "shop"],
      ["environment.created", "environment", "prod"],
      ["config.applied", null, null],
    ]);
    expect(events[3]!.payload).toEqual({ fields: { "run.instances": [2, 3] }, revision: 2 });
    expect(events[4]!.payload).toEqual({ fields: null, revision: 2 });
    expect(events[2]!.payload).toEqual({
      revision: 1,
      summary: { add: 2, change: 0, delete: 0 },
      sourceHash: "sha256:0-ana",
      gitCommit: "abc123",
    });
    expect(events.every((e) => e.actor === "ana")).toBe(true);
    expect(events[6]!.at).toBe("2025-03-01T12:01:00.000Z");
  });

  it("keeps every revision with its source, newest first, and pages back with before", async () => {
    store = await backend.open({ now: clock.now });
    for (let base = 0; base < 4; base++)
      await store.config.apply(applyInput(base, [createService(`s${base}`, 1)]));

    expect((await store.config.listRevisions()).map((r) => r.revision)).toEqual([4, 3, 2, 1]);
    expect((await store.config.listRevisions({ limit: 2 })).map((r) => r.revision)).toEqual([4, 3]);
    expect((await store.config.listRevisions({ before: 3, limit: 5 })).map((r) => r.revision)).toEqual([
      2, 1,
    ]);
    const third = await store.config.getRevision(3);
    expect(third.source).toBe("# revision 3 by ana\n");
    expect(third.summary).toEqual({ add: 1, change: 0, delete: 0 });
    expect((await rejection(store.config.getRevision(9))).code).toBe("not_found");
  });

  it("refuses a stale plan and changes nothing", async () => {
    store = await backend.open({ now: clock.now });
    await store.config.apply(applyInput(0, [createService("web", 2)]));
    await store.config.apply(
      applyInput(1, [{ action: "update", kind: "service", name: "web", spec: { v: 2 } }]),
    );
    const eventsBefore = await store.events.list();

    const error = await rejection(store.config.apply(applyInput(1, [createService("api", 1)])));
    expect(error.code).toBe("stale_plan");
    expect(error.message).toBe(
      "stale plan: it was made against revision 1, but the config is now at revision 2",
    );
    expect(error.hint).toMatch(/plan/);

    expect(await store.config.currentRevision()).toBe(2);
    expect((await store.config.listObjects()).map((o) => o.name)).toEqual(["web"]);
    expect(await store.events.list()).toEqual(eventsBefore);
  });

  it("writes nothing when a change does not match the stored objects", async () => {
    store = await backend.open({ now: clock.now });
    const error = await rejection(
      store.config.apply(
        applyInput(0, [
          createService("web", 1),
          { action: "update", kind: "service", name: "ghost", spec: {} },
        ]),
      ),
    );
    expect(error.code).toBe("stale_plan");
    expect(error.message).toContain("service ghost");
    expect(await store.config.currentRevision()).toBe(0);
    expect(await store.config.listObjects()).toEqual([]);
    expect(await store.events.list()).toEqual([]);
  });

  it("refuses malformed input before touching the database", async () => {
    store = await backend.open({ now: clock.now });
    expect((await rejection(store.config.apply(applyInput(-1, [])))).code).toBe("invalid_request");
    const noSpec = applyInput(0, [{ action: "create", kind: "service", name: "web" }]);
    expect((await rejection(store.config.apply(noSpec))).code).toBe("invalid_request");
  });

  async function expectOneWinner(stores: [Store, Store], base: number): Promise<void> {
    const plans = [
      applyInput(base, [createService(`a${base}`, 1), createService(`a${base}-2`, 1)], "a"),
      applyInput(base, [createService(`b${base}`, 2)], "b"),
    ];
    const results = await Promise.allSettled([
      stores[0].config.apply(plans[0]!),
      stores[1].config.apply(plans[1]!),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(SlipwayError);
    expect(["apply_conflict", "stale_plan"]).toContain((lost[0]!.reason as SlipwayError).code);

    const winner = plans[results.findIndex((r) => r.status === "fulfilled")]!;
    expect(await stores[0].config.currentRevision()).toBe(base + 1);
    const atRevision = (await stores[1].config.listObjects()).filter((o) => o.revision === base + 1);
    expect(atRevision.map((o) => o.name).sort()).toEqual(winner.changes.map((c) => c.name).sort());
    const applied = await stores[0].events.list({ types: ["config.applied"], limit: 1000 });
    expect(applied.map((e) => e.actor).at(-1)).toBe(winner.author);
    expect(applied).toHaveLength(base + 1);
  }

  it("lets exactly one of two concurrent applies on the same base win, in one store", async () => {
    store = await backend.open({ now: clock.now });
    for (let base = 0; base < 5; base++) await expectOneWinner([store, store], base);
  });

  it("lets exactly one of two concurrent applies on the same base win, across two store instances", async () => {
    store = await backend.open({ now: clock.now });
    const other = await backend.open({ now: clock.now, sameDatabaseAs: store });
    try {
      for (let base = 0; base < 5; base++) await expectOneWinner([store, other], base);
    } finally {
      await other.close();
    }
  });
});
