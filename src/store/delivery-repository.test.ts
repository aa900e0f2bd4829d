import { createHash } from "node:crypto";

import { afterEach, describe, expect, it } from "vitest";

import { createTestClock } from "../test-support/clock.js";
import { storeBackends } from "../test-support/stores.js";
import { SlipwayError } from "../util/index.js";
import {
  ACTIVE_ROLLOUT_STATUSES,
  BLOCKING_ROLLOUT_STATUSES,
  ROLLOUT_STATUSES,
  ROLLOUT_STRATEGIES,
  type ReleaseInput,
  type Rollout,
  type RolloutInput,
  type Store,
  type StoredEvent,
  type VerdictInput,
} from "./index.js";

const T0 = "2025-04-01T09:00:00.000Z";

function artifactHash(seed: string): string {
  return `sha256:${createHash("sha256").update(seed).digest("hex")}`;
}

function releaseInput(version: string, overrides: Partial<ReleaseInput> = {}): ReleaseInput {
  return {
    service: "web",
    version,
    artifactDir: `/data/releases/web/${version}`,
    artifactHash: artifactHash(`web-${version}`),
    artifactBytes: 3_000_000_000,
    artifactFiles: 12,
    commit: "0f1e2d3c",
    config: { run: { command: "node server.js", instances: 2 } },
    configRevision: 3,
    createdBy: "ana",
    ...overrides,
  };
}

function rolloutInput(overrides: Partial<RolloutInput> = {}): RolloutInput {
  return {
    service: "web",
    env: "prod",
    release: "1.1.0",
    previous: "1.0.0",
    strategy: "canary",
    status: "progressing",
    state: { phase: "analysis", step: 0, weights: { "1.1.0": 10, "1.0.0": 90 } },
    createdBy: "ana",
    ...overrides,
  };
}

function verdictInput(step: number | null, result: VerdictInput["result"] = "pass"): VerdictInput {
  return {
    step,
    phase: step === null ? "watch" : "analysis",
    result,
    windowStart: "2025-04-01T09:00:00.000Z",
    windowEnd: "2025-04-01T09:05:00.000Z",
    verdict: { decidedBy: "error-rate", values: { canary: 0.01, baseline: 0.012 }, step },
  };
}

async function rejection(promise: Promise<unknown>): Promise<SlipwayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SlipwayError);
  return error as SlipwayError;
}

const summary = (events: StoredEvent[]) => events.map((e) => [e.type, e.actor, e.objectKind, e.objectName]);

describe("delivery constants", () => {
  it("are exported at runtime from the store's entry point", () => {
    expect(ROLLOUT_STATUSES).toContain("rolled-back");
    expect(ACTIVE_ROLLOUT_STATUSES).toEqual(["progressing", "paused", "watching"]);
    expect(BLOCKING_ROLLOUT_STATUSES).toEqual(["progressing", "paused"]);
    expect(ROLLOUT_STRATEGIES).toContain("blue-green");
  });
});

describe.each(storeBackends())("delivery repository on $name", (backend) => {
  const clock = createTestClock(T0);
  let store: Store;

  afterEach(async () => {
    clock.set(T0);
    await store.close();
  });

  const rows = (table: string) => backend.query(store, `select * from ${table}`);

  describe("releases", () => {
    it("creates, gets and lists releases newest first, appending release.created", async () => {
      store = await backend.open({ now: clock.now });
      const first = await store.delivery.createRelease(releaseInput("1.0.0"));
      expect(first).toEqual({ release: { ...releaseInput("1.0.0"), createdAt: T0 }, created: true });

      clock.advance(60_000);
      await store.delivery.createRelease(releaseInput("1.1.0", { commit: null, config: null }));
      // Same clock reading: creation order still decides "newest".
      await store.delivery.createRelease(releaseInput("1.0.1"));
      await store.delivery.createRelease(releaseInput("1.0.0", { service: "api" }));

      expect(await store.delivery.getRelease("web", "1.1.0")).toEqual({
        ...releaseInput("1.1.0", { commit: null, config: null }),
        createdAt: "2025-04-01T09:01:00.000Z",
      });
      expect(await store.delivery.getRelease("web", "9.9.9")).toBeUndefined();
      expect(await store.delivery.getRelease("db", "1.0.0")).toBeUndefined();
      expect((await store.delivery.listReleases("web")).map((r) => r.version)).toEqual([
        "1.0.1",
        "1.1.0",
        "1.0.0",
      ]);
      expect(await store.delivery.listReleases("api")).toEqual([
        { ...releaseInput("1.0.0", { service: "api" }), createdAt: "2025-04-01T09:01:00.000Z" },
      ]);
      expect(await store.delivery.listReleases("db")).toEqual([]);

      const events = await store.events.list({ types: ["release."] });
      expect(summary(events)).toEqual([
        ["release.created", "ana", "service", "web"],
        ["release.created", "ana", "service", "web"],
        ["release.created", "ana", "service", "web"],
        ["release.created", "ana", "service", "api"],
      ]);
      expect(events[0]!.payload).toEqual({
        version: "1.0.0",
        artifactHash: artifactHash("web-1.0.0"),
        commit: "0f1e2d3c",
      });
      expect(events[1]!.payload).toEqual({
        version: "1.1.0",
        artifactHash: artifactHash("web-1.1.0"),
        commit: null,
      });
    });

    it("returns the stored release for the same version and hash, and writes nothing", async () => {
      store = await backend.open({ now: clock.now });
      const { release } = await store.delivery.createRelease(releaseInput("1.0.0"));
      const eventsBefore = await store.events.list();

      clock.advance(60_000);
      const again = await store.delivery.createRelease(
        releaseInput("1.0.0", { artifactDir: "/elsewhere", createdBy: "bob" }),
      );
      expect(again).toEqual({ release, created: false });
      expect(await store.events.list()).toEqual(eventsBefore);
      expect(await rows("releases")).toHaveLength(1);
    });

    it("refuses the same version with another artifact hash: releases are immutable", async () => {
      store = await backend.open({ now: clock.now });
      const { release } = await store.delivery.createRelease(releaseInput("1.0.0"));
      const eventsBefore = await store.events.list();

      const error = await rejection(
        store.delivery.createRelease(releaseInput("1.0.0", { artifactHash: artifactHash("other") })),
      );
      expect(error.code).toBe("release_immutable");
      expect(error.message).toContain("immutable");
      expect(error.details).toEqual({
        service: "web",
        version: "1.0.0",
        artifactHash: release.artifactHash,
      });
      expect(await store.delivery.getRelease("web", "1.0.0")).toEqual(release);
      expect(await store.events.list()).toEqual(eventsBefore);
    });

    it("rejects malformed releases with invalid_request and writes nothing", async () => {
      store = await backend.open({ now: clock.now });
      const bad: Partial<ReleaseInput>[] = [
        { version: "" },
        { version: "-1.0.0" },
        { version: ".hidden" },
        { version: "1.0 beta" },
        { version: "1/0" },
        { version: "v".repeat(65) },
        { service: "" },
        { service: "  " },
        { artifactHash: "md5:abc" },
        { artifactHash: "sha256:XYZ" },
        { artifactBytes: -1 },
        { artifactFiles: 1.5 },
        { configRevision: -1 },
        { createdBy: "" },
        { config: undefined },
      ];
      for (const overrides of bad) {
        const error = await rejection(store.delivery.createRelease(releaseInput("1.0.0", overrides)));
        expect(error.code, JSON.stringify(overrides)).toBe("invalid_request");
      }
      expect(await rows("releases")).toEqual([]);
      expect(await store.events.list()).toEqual([]);
      expect((await rejection(store.delivery.getRelease("", "1.0.0"))).code).toBe("invalid_request");
      expect((await rejection(store.delivery.listReleases(""))).code).toBe("invalid_request");

      const longest = "v".repeat(64);
      const { created } = await store.delivery.createRelease(releaseInput(longest));
      expect(created).toBe(true);
      await store.delivery.createRelease(releaseInput("1.0.0-rc_1.b2"));
      expect(await rows("releases")).toHaveLength(2);
    });
  });

  describe("slots", () => {
    it("creates a slot at expected revision 0, then compare-and-sets on its revision", async () => {
      store = await backend.open({ now: clock.now });
      expect(await store.delivery.getSlot("web", "prod")).toBeUndefined();
      const warm = [{ version: "0.9.0", until: "2025-04-01T10:00:00.000Z" }];
      const event = { type: "slot.updated", actor: "reaper", objectKind: "service", objectName: "web" };

      const created = await store.delivery.updateSlot("web", "prod", 0, { stable: "1.0.0", warm }, [event]);
      expect(created).toEqual({
        service: "web",
        env: "prod",
        stable: "1.0.0",
        warm,
        revision: 1,
        updatedAt: T0,
      });

      const twice = await rejection(store.delivery.updateSlot("web", "prod", 0, { stable: null, warm: [] }));
      expect(twice.code).toBe("stale_write");
      expect(twice.details).toEqual({ service: "web", env: "prod", expectedRevision: 0, currentRevision: 1 });

      clock.advance(1_000);
      const next = await store.delivery.updateSlot("web", "prod", 1, { stable: "1.0.0", warm: [] });
      expect(next).toMatchObject({ revision: 2, warm: [], updatedAt: "2025-04-01T09:00:01.000Z" });

      const stale = await rejection(
        store.delivery.updateSlot("web", "prod", 1, { stable: null, warm: [] }, [event]),
      );
      expect(stale.code).toBe("stale_write");
      expect(stale.details).toEqual({ service: "web", env: "prod", expectedRevision: 1, currentRevision: 2 });
      const missing = await rejection(
        store.delivery.updateSlot("web", "staging", 3, { stable: null, warm: [] }),
      );
      expect(missing.code).toBe("stale_write");
      expect(missing.details).toMatchObject({ expectedRevision: 3, currentRevision: 0 });

      expect(await store.delivery.getSlot("web", "prod")).toEqual(next);
      await store.delivery.updateSlot("api", "prod", 0, { stable: null, warm: [] });
      await store.delivery.updateSlot("web", "dev", 0, { stable: null, warm: [] });
      expect((await store.delivery.listSlots()).map((s) => `${s.service}/${s.env}`)).toEqual([
        "api/prod",
        "web/dev",
        "web/prod",
      ]);
      // Only the caller's event, once: the stale write recorded none.
      expect(summary(await store.events.list())).toEqual([["slot.updated", "reaper", "service", "web"]]);
    });

    it("rejects malformed slot writes", async () => {
      store = await backend.open({ now: clock.now });
      const attempts = [
        store.delivery.updateSlot("", "prod", 0, { stable: null, warm: [] }),
        store.delivery.updateSlot("web", "prod", -1, { stable: null, warm: [] }),
        store.delivery.updateSlot("web", "prod", 0, { stable: "bad version", warm: [] }),
        store.delivery.updateSlot("web", "prod", 0, {
          stable: null,
          warm: [{ version: "1", until: "soon" }],
        }),
        store.delivery.updateSlot("web", "prod", 0, { stable: null, warm: [] }, [{ type: "", actor: "x" }]),
      ];
      for (const attempt of attempts) expect((await rejection(attempt)).code).toBe("invalid_request");
      expect(await rows("slots")).toEqual([]);
    });
  });

  describe("rollouts", () => {
    it("starts a rollout: creates the missing slot, assigns ids, appends rollout.started and the caller's events", async () => {
      store = await backend.open({ now: clock.now });
      const extra = { type: "deploy.requested", actor: "ci", objectKind: "service", objectName: "web" };
      const rollout = await store.delivery.startRollout(rolloutInput({ reason: "ship it" }), [extra]);
      expect(rollout).toEqual({
        id: 1,
        ...rolloutInput(),
        reason: "ship it",
        createdAt: T0,
        updatedAt: T0,
        finishedAt: null,
        revision: 1,
      });
      expect(await store.delivery.getRollout(1)).toEqual(rollout);
      expect(await store.delivery.getSlot("web", "prod")).toEqual({
        service: "web",
        env: "prod",
        stable: null,
        warm: [],
        revision: 1,
        updatedAt: T0,
      });

      const other = await store.delivery.startRollout(
        rolloutInput({ env: "staging", strategy: "initial", previous: null }),
      );
      expect(other.id).toBe(2);
      expect(other.reason).toBeNull();

      const events = await store.events.list();
      expect(summary(events)).toEqual([
        ["rollout.started", "ana", "service", "web"],
        ["deploy.requested", "ci", "service", "web"],
        ["rollout.started", "ana", "service", "web"],
      ]);
      expect(events[0]!.payload).toEqual({
        id: 1,
        env: "prod",
        release: "1.1.0",
        previous: "1.0.0",
        strategy: "canary",
      });
      expect(events[2]!.payload).toMatchObject({
        id: 2,
        env: "staging",
        previous: null,
        strategy: "initial",
      });
    });

    it("refuses a second rollout while one is progressing or paused, with its id, writing nothing", async () => {
      store = await backend.open({ now: clock.now });
      const first = await store.delivery.startRollout(rolloutInput());
      const eventsBefore = await store.events.list();
      const slotBefore = await store.delivery.getSlot("web", "prod");

      const refused = await rejection(store.delivery.startRollout(rolloutInput({ release: "1.2.0" })));
      expect(refused.code).toBe("rollout_in_progress");
      expect(refused.details).toEqual({ rolloutId: first.id });
      expect(refused.message).toContain(`rollout ${first.id}`);

      const paused = await store.delivery.updateRollout({
        id: first.id,
        expectedRevision: 1,
        status: "paused",
        state: { phase: "paused" },
      });
      expect(paused.finishedAt).toBeNull();
      const stillRefused = await rejection(store.delivery.startRollout(rolloutInput({ release: "1.2.0" })));
      expect(stillRefused.details).toEqual({ rolloutId: first.id });

      expect((await store.delivery.listRollouts()).map((r) => r.id)).toEqual([first.id]);
      expect(await store.delivery.getSlot("web", "prod")).toEqual(slotBefore);
      expect(await store.events.list()).toEqual(eventsBefore);
    });

    it("supersedes a watching rollout, ending it as succeeded", async () => {
      store = await backend.open({ now: clock.now });
      const first = await store.delivery.startRollout(rolloutInput());
      const watching = await store.delivery.updateRollout({
        id: first.id,
        expectedRevision: first.revision,
        status: "watching",
        state: { phase: "watch" },
        slot: { stable: "1.1.0", warm: [{ version: "1.0.0", until: "2025-04-01T10:00:00.000Z" }] },
      });
      const slotBefore = await store.delivery.getSlot("web", "prod");

      clock.advance(300_000);
      const second = await store.delivery.startRollout(
        rolloutInput({ release: "1.2.0", previous: "1.1.0", strategy: "rolling", createdBy: "bob" }),
        [{ type: "deploy.requested", actor: "bob" }],
      );
      const later = "2025-04-01T09:05:00.000Z";
      expect(second).toMatchObject({ id: 2, status: "progressing", createdAt: later });
      expect(await store.delivery.getRollout(first.id)).toEqual({
        ...watching,
        status: "succeeded",
        reason: "superseded by rollout 2",
        updatedAt: later,
        finishedAt: later,
        revision: watching.revision + 1,
      });
      // Starting leaves an existing slot alone.
      expect(await store.delivery.getSlot("web", "prod")).toEqual(slotBefore);

      const events = await store.events.list({ types: ["rollout.", "deploy."] });
      expect(summary(events)).toEqual([
        ["rollout.started", "ana", "service", "web"],
        ["rollout.succeeded", "bob", "service", "web"],
        ["rollout.started", "bob", "service", "web"],
        ["deploy.requested", "bob", null, null],
      ]);
      expect(events[1]!.payload).toEqual({
        id: 1,
        env: "prod",
        release: "1.1.0",
        reason: "superseded by rollout 2",
      });
      expect(events[2]!.payload).toMatchObject({ id: 2, release: "1.2.0", previous: "1.1.0" });

      // The engine still holding the superseded rollout's old revision is refused.
      const late = await rejection(
        store.delivery.updateRollout({
          id: first.id,
          expectedRevision: watching.revision,
          status: "rolled-back",
          state: {},
        }),
      );
      expect(late.code).toBe("stale_write");
    });

    it("refuses an update on a stale revision and writes nothing (rollout, slot, verdict, events)", async () => {
      store = await backend.open({ now: clock.now });
      const rollout = await store.delivery.startRollout(rolloutInput());
      const moved = await store.delivery.updateRollout({
        id: rollout.id,
        expectedRevision: 1,
        status: "progressing",
        state: { step: 1 },
      });
      expect(moved.revision).toBe(2);
      const eventsBefore = await store.events.list();
      const slotBefore = await store.delivery.getSlot("web", "prod");
      const published: StoredEvent[] = [];
      const unsubscribe = store.events.subscribe((e) => published.push(e));

      const stale = await rejection(
        store.delivery.updateRollout({
          id: rollout.id,
          expectedRevision: 1,
          status: "rolled-back",
          state: { step: 0 },
          reason: "too slow",
          slot: { stable: "1.0.0", warm: [] },
          verdict: verdictInput(0, "fail"),
          events: [{ type: "rollout.rolled-back", actor: "ana" }],
        }),
      );
      unsubscribe();
      expect(stale.code).toBe("stale_write");
      expect(stale.details).toEqual({ rolloutId: rollout.id, expectedRevision: 1, currentRevision: 2 });
      expect(await store.delivery.getRollout(rollout.id)).toEqual(moved);
      expect(await store.delivery.getSlot("web", "prod")).toEqual(slotBefore);
      expect(await store.delivery.listVerdicts(rollout.id)).toEqual([]);
      expect(await store.events.list()).toEqual(eventsBefore);
      expect(published).toEqual([]);

      const missing = await rejection(
        store.delivery.updateRollout({ id: 99, expectedRevision: 1, status: "aborted", state: {} }),
      );
      expect(missing.code).toBe("not_found");
      expect((await rejection(store.delivery.getRollout(99))).code).toBe("not_found");
    });

    it("writes the slot, the verdict and the events in the rollout update's transaction", async () => {
      store = await backend.open({ now: clock.now });
      const rollout = await store.delivery.startRollout(rolloutInput());
      clock.advance(60_000);
      const at = "2025-04-01T09:01:00.000Z";
      const warm = [{ version: "1.0.0", until: "2025-04-01T10:01:00.000Z" }];
      const promoted = await store.delivery.updateRollout({
        id: rollout.id,
        expectedRevision: 1,
        status: "watching",
        state: { phase: "watch" },
        slot: { stable: "1.1.0", warm },
        verdict: verdictInput(2),
        events: [{ type: "rollout.promoted", actor: "engine", objectKind: "service", objectName: "web" }],
      });
      expect(promoted).toMatchObject({ status: "watching", revision: 2, updatedAt: at, finishedAt: null });
      expect(await store.delivery.getSlot("web", "prod")).toEqual({
        service: "web",
        env: "prod",
        stable: "1.1.0",
        warm,
        revision: 2,
        updatedAt: at,
      });
      expect(await store.delivery.listVerdicts(rollout.id)).toEqual([
        { id: 1, rolloutId: rollout.id, at, ...verdictInput(2) },
      ]);
      const [promotedEvent] = await store.events.list({ types: ["rollout.promoted"] });
      expect(promotedEvent).toMatchObject({ actor: "engine", at });

      // A slot that vanished is created again by the owning rollout's update.
      await backend.query(store, "delete from slots");
      await store.delivery.updateRollout({
        id: rollout.id,
        expectedRevision: 2,
        status: "watching",
        state: { phase: "watch", n: 2 },
        slot: { stable: "1.1.0", warm: [] },
      });
      expect(await store.delivery.getSlot("web", "prod")).toMatchObject({ stable: "1.1.0", revision: 1 });

      // A failure late in the transaction (the verdict insert) undoes the rollout and slot writes too.
      const rolloutBefore = await store.delivery.getRollout(rollout.id);
      const slotBefore = await store.delivery.getSlot("web", "prod");
      const eventsBefore = await store.events.list();
      await backend.query(store, "drop table verdicts");
      await expect(
        store.delivery.updateRollout({
          id: rollout.id,
          expectedRevision: rolloutBefore.revision,
          status: "succeeded",
          state: {},
          slot: { stable: "1.1.0", warm: [] },
          verdict: verdictInput(null),
          events: [{ type: "rollout.succeeded", actor: "engine" }],
        }),
      ).rejects.toThrow();
      expect(await store.delivery.getRollout(rollout.id)).toEqual(rolloutBefore);
      expect(await store.delivery.getSlot("web", "prod")).toEqual(slotBefore);
      expect(await store.events.list()).toEqual(eventsBefore);
    });

    it("stores verdicts and lists the newest ones oldest first", async () => {
      store = await backend.open({ now: clock.now });
      const rollout = await store.delivery.startRollout(rolloutInput());
      const other = await store.delivery.startRollout(rolloutInput({ env: "staging" }));
      let revision = rollout.revision;
      for (let step = 0; step < 4; step++) {
        clock.advance(60_000);
        const updated = await store.delivery.updateRollout({
          id: rollout.id,
          expectedRevision: revision,
          status: "progressing",
          state: { step },
          verdict: verdictInput(step, step === 3 ? "inconclusive" : "pass"),
        });
        revision = updated.revision;
        if (step === 1) {
          await store.delivery.updateRollout({
            id: other.id,
            expectedRevision: 1,
            status: "progressing",
            state: {},
            verdict: verdictInput(null, "fail"),
          });
        }
      }
      const all = await store.delivery.listVerdicts(rollout.id);
      expect(all.map((v) => [v.id, v.step, v.result])).toEqual([
        [1, 0, "pass"],
        [2, 1, "pass"],
        [4, 2, "pass"],
        [5, 3, "inconclusive"],
      ]);
      expect(all[0]).toEqual({
        id: 1,
        rolloutId: rollout.id,
        at: "2025-04-01T09:01:00.000Z",
        ...verdictInput(0),
      });
      expect((await store.delivery.listVerdicts(rollout.id, { limit: 2 })).map((v) => v.step)).toEqual([
        2, 3,
      ]);
      expect((await store.delivery.listVerdicts(other.id)).map((v) => [v.id, v.step, v.phase])).toEqual([
        [3, null, "watch"],
      ]);
      expect(await store.delivery.listVerdicts(77)).toEqual([]);
      expect((await rejection(store.delivery.listVerdicts(rollout.id, { limit: 0 }))).code).toBe(
        "invalid_request",
      );
    });

    it("sets finishedAt when the status becomes final, keeps it null otherwise, and keeps the reason unless given", async () => {
      store = await backend.open({ now: clock.now });
      const rollout = await store.delivery.startRollout(rolloutInput({ reason: "release train" }));
      clock.advance(1_000);
      const paused = await store.delivery.updateRollout({
        id: rollout.id,
        expectedRevision: 1,
        status: "paused",
        state: { step: 1 },
      });
      expect(paused).toMatchObject({ status: "paused", finishedAt: null, reason: "release train" });

      clock.advance(1_000);
      const aborted = await store.delivery.updateRollout({
        id: rollout.id,
        expectedRevision: 2,
        status: "aborted",
        state: { step: 1 },
        reason: "aborted by ana",
      });
      expect(aborted).toEqual({
        ...paused,
        status: "aborted",
        reason: "aborted by ana",
        updatedAt: "2025-04-01T09:00:02.000Z",
        finishedAt: "2025-04-01T09:00:02.000Z",
        revision: 3,
      });
      expect(await store.delivery.getRollout(rollout.id)).toEqual(aborted);
      expect(await store.delivery.listRollouts({ active: true })).toEqual([]);

      // Final means the slot is free again.
      const next = await store.delivery.startRollout(rolloutInput({ release: "1.2.0" }));
      expect(next.id).toBe(2);

      for (const status of ["succeeded", "rolled-back", "failed"] as const) {
        const current = await store.delivery.getRollout(next.id);
        const updated = await store.delivery.updateRollout({
          id: next.id,
          expectedRevision: current.revision,
          status,
          state: {},
          reason: null,
        });
        expect(updated.finishedAt).toBe("2025-04-01T09:00:02.000Z");
        expect(updated.reason).toBeNull();
      }
      // A rollout started in a final status (say, a no-op) is finished at once.
      const noop = await store.delivery.startRollout(rolloutInput({ env: "dev", status: "succeeded" }));
      expect(noop.finishedAt).toBe("2025-04-01T09:00:02.000Z");
    });

    it("refuses to move a rollout back into progressing while another one owns the slot", async () => {
      store = await backend.open({ now: clock.now });
      const first = await store.delivery.startRollout(rolloutInput());
      const aborted = await store.delivery.updateRollout({
        id: first.id,
        expectedRevision: 1,
        status: "aborted",
        state: {},
      });
      const second = await store.delivery.startRollout(rolloutInput({ release: "1.2.0" }));
      const error = await rejection(
        store.delivery.updateRollout({
          id: first.id,
          expectedRevision: aborted.revision,
          status: "progressing",
          state: {},
        }),
      );
      expect(error.code).toBe("rollout_in_progress");
      expect(error.details).toEqual({ rolloutId: second.id });
      expect(await store.delivery.getRollout(first.id)).toEqual(aborted);
    });

    it("lists rollouts newest first, filtered by service, env and activity, with a limit", async () => {
      store = await backend.open({ now: clock.now });
      const started: Rollout[] = [];
      for (const [service, env] of [
        ["web", "prod"],
        ["web", "staging"],
        ["api", "prod"],
        ["api", "staging"],
      ] as const) {
        started.push(await store.delivery.startRollout(rolloutInput({ service, env })));
      }
      await store.delivery.updateRollout({ id: 3, expectedRevision: 1, status: "failed", state: {} });
      await store.delivery.updateRollout({ id: 2, expectedRevision: 1, status: "watching", state: {} });

      const ids = async (query?: Parameters<Store["delivery"]["listRollouts"]>[0]) =>
        (await store.delivery.listRollouts(query)).map((r) => r.id);
      expect(await ids()).toEqual([4, 3, 2, 1]);
      expect(await ids({ limit: 2 })).toEqual([4, 3]);
      expect(await ids({ limit: 5000 })).toEqual([4, 3, 2, 1]);
      expect(await ids({ service: "web" })).toEqual([2, 1]);
      expect(await ids({ env: "prod" })).toEqual([3, 1]);
      expect(await ids({ service: "api", env: "prod" })).toEqual([3]);
      expect(await ids({ active: true })).toEqual([4, 2, 1]);
      expect(await ids({ active: false })).toEqual([4, 3, 2, 1]);
      expect(await ids({ service: "api", active: true })).toEqual([4]);
      expect(await ids({ service: "nope" })).toEqual([]);
      expect((await store.delivery.listRollouts())[3]).toEqual(started[0]);

      for (let i = 0; i < 22; i++) {
        await store.delivery.startRollout(rolloutInput({ env: `e${i}`, status: "aborted" }));
      }
      expect(await ids()).toHaveLength(20);
      expect((await rejection(store.delivery.listRollouts({ limit: 0 }))).code).toBe("invalid_request");
      expect((await rejection(store.delivery.listRollouts({ limit: 1.5 }))).code).toBe("invalid_request");
    });

    it("rejects malformed rollout input with invalid_request and writes nothing", async () => {
      store = await backend.open({ now: clock.now });
      const bad: Partial<RolloutInput>[] = [
        { service: "" },
        { env: "" },
        { release: "not a version" },
        { previous: "" },
        { strategy: "yolo" as RolloutInput["strategy"] },
        { status: "done" as RolloutInput["status"] },
        { state: undefined },
        { reason: 5 as unknown as string },
        { createdBy: " " },
      ];
      for (const overrides of bad) {
        const error = await rejection(store.delivery.startRollout(rolloutInput(overrides)));
        expect(error.code, JSON.stringify(overrides)).toBe("invalid_request");
      }
      expect(
        (await rejection(store.delivery.startRollout(rolloutInput(), [{ type: "x", actor: "" }]))).code,
      ).toBe("invalid_request");
      expect(await rows("rollouts")).toEqual([]);
      expect(await rows("slots")).toEqual([]);
      expect(await store.events.list()).toEqual([]);

      const rollout = await store.delivery.startRollout(rolloutInput());
      const update = { id: rollout.id, expectedRevision: 1, status: "paused" as const, state: {} };
      const badUpdates = [
        { ...update, id: 1.5 },
        { ...update, expectedRevision: 0 },
        { ...update, status: "stopped" as "paused" },
        { ...update, slot: { stable: "bad version", warm: [] } },
        { ...update, verdict: { ...verdictInput(0), result: "maybe" as "pass" } },
        { ...update, verdict: { ...verdictInput(0), step: -1 } },
        { ...update, verdict: { ...verdictInput(0), windowEnd: "later" } },
        { ...update, events: [{ type: "", actor: "ana" }] },
      ];
      for (const attempt of badUpdates) {
        const error = await rejection(store.delivery.updateRollout(attempt));
        expect(error.code, JSON.stringify(attempt)).toBe("invalid_request");
      }
      expect(await store.delivery.getRollout(rollout.id)).toEqual(rollout);
      expect((await rejection(store.delivery.getRollout(0))).code).toBe("invalid_request");
      expect((await rejection(store.delivery.getRollout(2.5))).code).toBe("invalid_request");
    });

    it("lets exactly one of two concurrent starts on the same slot win, across two store instances", async () => {
      store = await backend.open({ now: clock.now });
      const other = await backend.open({ now: clock.now, sameDatabaseAs: store });
      try {
        for (let round = 0; round < 5; round++) {
          const results = await Promise.allSettled([
            store.delivery.startRollout(rolloutInput({ release: `2.${round}.0`, createdBy: "a" })),
            other.delivery.startRollout(rolloutInput({ release: `3.${round}.0`, createdBy: "b" })),
          ]);
          const won = results.filter((r): r is PromiseFulfilledResult<Rollout> => r.status === "fulfilled");
          const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
          expect(won).toHaveLength(1);
          expect(lost).toHaveLength(1);
          const reason = lost[0]!.reason as SlipwayError;
          expect(reason).toBeInstanceOf(SlipwayError);
          expect(["rollout_in_progress", "stale_write"]).toContain(reason.code);
          const winner = won[0]!.value;
          expect(reason.details).toEqual({ rolloutId: winner.id });
          expect(winner.id).toBe(round + 1);
          await other.delivery.updateRollout({
            id: winner.id,
            expectedRevision: winner.revision,
            status: "aborted",
            state: {},
          });
        }
        expect(await store.delivery.listRollouts()).toHaveLength(5);
        expect(await other.events.list({ types: ["rollout.started"] })).toHaveLength(5);
        expect(await store.delivery.getSlot("web", "prod")).toMatchObject({ revision: 1 });
      } finally {
        await other.close();
      }
    });
  });
});
