import { afterEach, describe, expect, it } from "vitest";

import { createTestClock } from "../test-support/clock.js";
import { storeBackends } from "../test-support/stores.js";
import { SlipwayError } from "../util/index.js";
import {
  FINAL_RUN_STATUSES,
  PIPELINE_RUN_STATUSES,
  type JsonValue,
  type PipelineRun,
  type PipelineRunInput,
  type PipelineRunQuery,
  type PipelineRunUpdate,
  type PipelineTrigger,
  type Store,
  type StoredEvent,
} from "./index.js";

const T0 = "2025-05-01T08:00:00.000Z";
const T1 = "2025-05-01T08:00:01.000Z";
const T2 = "2025-05-01T08:00:02.000Z";

function trigger(overrides: Partial<PipelineTrigger> = {}): PipelineTrigger {
  return {
    kind: "push",
    actor: "github:octocat",
    ref: "refs/heads/main",
    sha: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
    branch: "main",
    tag: null,
    repository: null,
    inputs: {},
    ...overrides,
  };
}

function runInput(overrides: Partial<PipelineRunInput> = {}): PipelineRunInput {
  return {
    pipeline: "ci",
    trigger: trigger(),
    spec: { jobs: { build: { steps: [{ run: "npm test" }] } } },
    configRevision: 4,
    concurrencyGroup: null,
    state: { jobs: { build: { status: "queued" } } },
    ...overrides,
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

describe("pipeline constants", () => {
  it("are exported at runtime from the store's entry point", () => {
    expect(PIPELINE_RUN_STATUSES).toEqual([
      "queued",
      "running",
      "waiting",
      "succeeded",
      "failed",
      "cancelled",
      "interrupted",
    ]);
    expect(FINAL_RUN_STATUSES).toEqual(["succeeded", "failed", "cancelled", "interrupted"]);
  });
});

describe.each(storeBackends())("pipeline repository on $name", (backend) => {
  const clock = createTestClock(T0);
  let store: Store;

  afterEach(async () => {
    clock.set(T0);
    await store.close();
  });

  const rows = (table: string) => backend.query(store, `select * from ${table}`);

  describe("runs", () => {
    it("numbers runs per pipeline, assigns ids across pipelines and appends pipeline.run.created", async () => {
      store = await backend.open({ now: clock.now });
      const first = await store.pipelines.createRun(runInput());
      expect(first).toEqual({
        id: 1,
        number: 1,
        ...runInput(),
        status: "queued",
        createdAt: T0,
        startedAt: null,
        finishedAt: null,
        revision: 1,
      });
      expect(await store.pipelines.getRun(1)).toEqual(first);

      clock.advance(1_000);
      const made: PipelineRun[] = [first];
      for (const pipeline of ["release", "ci", "release", "release", "ci"]) {
        made.push(await store.pipelines.createRun(runInput({ pipeline })));
      }
      expect(made.map((r) => [r.id, r.pipeline, r.number])).toEqual([
        [1, "ci", 1],
        [2, "release", 1],
        [3, "ci", 2],
        [4, "release", 2],
        [5, "release", 3],
        [6, "ci", 3],
      ]);
      expect(made[1]!.createdAt).toBe(T1);

      const events = await store.events.list();
      expect(summary(events)).toEqual(
        made.map((r) => ["pipeline.run.created", "github:octocat", "pipeline", r.pipeline]),
      );
      expect(events[0]!.payload).toEqual({
        id: 1,
        number: 1,
        trigger: "push",
        actor: "github:octocat",
        ref: "refs/heads/main",
        sha: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
      });
      expect(events[4]!.payload).toMatchObject({ id: 5, number: 3 });
    });

    it("keeps the trigger's optional fields, drops unknown ones, and honours a given status", async () => {
      store = await backend.open({ now: clock.now });
      const scheduled = trigger({
        kind: "schedule",
        actor: "system:schedule",
        ref: null,
        sha: null,
        branch: null,
        scheduledAt: "2025-05-01T08:00:00.000Z",
        inputs: { target: "prod", retries: 3, dryRun: false },
      });
      const rerun = trigger({
        kind: "rerun",
        actor: "token:ci",
        repository: "repo_abcdefghij",
        rerunOf: 1,
        deliveryId: "d-1",
        changedPaths: ["src/a.ts", "README.md"],
      });
      const a = await store.pipelines.createRun(
        runInput({ trigger: scheduled, concurrencyGroup: "deploy-prod" }),
      );
      const b = await store.pipelines.createRun(
        runInput({ trigger: { ...rerun, extra: "dropped" } as PipelineTrigger, status: "running" }),
      );
      expect(await store.pipelines.getRun(a.id)).toMatchObject({
        trigger: scheduled,
        concurrencyGroup: "deploy-prod",
      });
      expect((await store.pipelines.getRun(b.id)).trigger).toEqual(rerun);
      expect(b).toMatchObject({ status: "running", startedAt: null, finishedAt: null });
      expect((await store.events.list())[0]!.payload).toEqual({
        id: 1,
        number: 1,
        trigger: "schedule",
        actor: "system:schedule",
        ref: null,
        sha: null,
      });

      // A run created already final (nothing matched a path filter, say) is finished at once.
      const skipped = await store.pipelines.createRun(runInput({ status: "succeeded" }));
      expect(skipped).toMatchObject({ status: "succeeded", startedAt: null, finishedAt: T0 });
    });

    it("compare-and-sets updates; a stale or unknown one writes nothing and publishes nothing", async () => {
      store = await backend.open({ now: clock.now });
      const run = await store.pipelines.createRun(runInput());
      clock.advance(1_000);
      const running = await store.pipelines.updateRun({
        id: run.id,
        expectedRevision: 1,
        status: "running",
        state: { jobs: { build: { status: "running" } } },
        markStarted: true,
        events: [{ type: "pipeline.run.started", actor: "runner", objectKind: "pipeline", objectName: "ci" }],
      });
      expect(running).toEqual({
        ...run,
        status: "running",
        state: { jobs: { build: { status: "running" } } },
        startedAt: T1,
        revision: 2,
      });
      expect(await store.pipelines.getRun(run.id)).toEqual(running);
      const [started] = await store.events.list({ types: ["pipeline.run.started"] });
      expect(started).toMatchObject({ actor: "runner", at: T1 });

      const eventsBefore = await store.events.list();
      const published: StoredEvent[] = [];
      const unsubscribe = store.events.subscribe((e) => published.push(e));
      const stale = await rejection(
        store.pipelines.updateRun({
          id: run.id,
          expectedRevision: 1,
          status: "cancelled",
          state: {},
          events: [{ type: "pipeline.run.cancelled", actor: "alice" }],
        }),
      );
      expect(stale.code).toBe("stale_write");
      expect(stale.details).toEqual({ runId: run.id, expectedRevision: 1, currentRevision: 2 });

      const missing = await rejection(
        store.pipelines.updateRun({
          id: 42,
          expectedRevision: 1,
          status: "cancelled",
          state: {},
          events: [{ type: "pipeline.run.cancelled", actor: "alice" }],
        }),
      );
      unsubscribe();
      expect(missing.code).toBe("not_found");
      expect((await rejection(store.pipelines.getRun(42))).code).toBe("not_found");
      expect(await store.pipelines.getRun(run.id)).toEqual(running);
      expect(await store.events.list()).toEqual(eventsBefore);
      expect(published).toEqual([]);
    });

    it("sets startedAt once, sets finishedAt on a final status and clears it on a non-final one", async () => {
      store = await backend.open({ now: clock.now });
      let run = await store.pipelines.createRun(runInput());
      const update = (patch: { status: PipelineRun["status"]; markStarted?: boolean }) =>
        store.pipelines.updateRun({
          id: run.id,
          expectedRevision: run.revision,
          state: { n: run.revision },
          ...patch,
        });

      // Without markStarted, running does not set startedAt.
      run = await update({ status: "running" });
      expect(run).toMatchObject({ startedAt: null, finishedAt: null, revision: 2 });
      run = await update({ status: "running", markStarted: true });
      expect(run.startedAt).toBe(T0);
      clock.advance(1_000);
      run = await update({ status: "waiting", markStarted: true });
      expect(run).toMatchObject({ status: "waiting", startedAt: T0, finishedAt: null });

      run = await update({ status: "interrupted" });
      expect(run).toMatchObject({ startedAt: T0, finishedAt: T1 });
      // Resumed: back to queued, no longer finished; startedAt is history and stays.
      clock.advance(1_000);
      run = await update({ status: "queued" });
      expect(run).toMatchObject({ status: "queued", startedAt: T0, finishedAt: null });
      expect(await store.pipelines.getRun(run.id)).toEqual(run);

      for (const status of FINAL_RUN_STATUSES) {
        run = await update({ status, markStarted: true });
        expect(run).toMatchObject({ status, startedAt: T0, finishedAt: T2 });
      }
      expect(run.revision).toBe(10);
      expect(await store.pipelines.getRun(run.id)).toEqual(run);
    });

    it("lists runs newest first, filtered by pipeline, statuses and concurrency group, paging with before", async () => {
      store = await backend.open({ now: clock.now });
      const plan = [
        ["ci", null, "succeeded"],
        ["deploy", "prod", "succeeded"],
        ["ci", null, "failed"],
        ["deploy", "prod", "running"],
        ["deploy", "staging", "queued"],
        ["deploy", "prod", "queued"],
        ["ci", null, "queued"],
      ] as const;
      for (const [pipeline, concurrencyGroup, status] of plan) {
        await store.pipelines.createRun(runInput({ pipeline, concurrencyGroup, status }));
      }
      const ids = async (query?: PipelineRunQuery) =>
        (await store.pipelines.listRuns(query)).map((r) => r.id);

      expect(await ids()).toEqual([7, 6, 5, 4, 3, 2, 1]);
      expect(await ids({})).toEqual([7, 6, 5, 4, 3, 2, 1]);
      expect(await ids({ pipeline: "ci" })).toEqual([7, 3, 1]);
      expect(await ids({ pipeline: "nope" })).toEqual([]);
      expect(await ids({ statuses: ["queued"] })).toEqual([7, 6, 5]);
      expect(await ids({ statuses: ["queued", "running"] })).toEqual([7, 6, 5, 4]);
      expect(await ids({ statuses: [...FINAL_RUN_STATUSES] })).toEqual([3, 2, 1]);
      expect(await ids({ statuses: [] })).toEqual([]);
      expect(await ids({ concurrencyGroup: "prod" })).toEqual([6, 4, 2]);
      expect(await ids({ concurrencyGroup: "prod", statuses: ["queued", "running"] })).toEqual([6, 4]);
      expect(await ids({ pipeline: "deploy", concurrencyGroup: "staging" })).toEqual([5]);
      expect(await ids({ limit: 3 })).toEqual([7, 6, 5]);
      expect(await ids({ limit: 3, before: 5 })).toEqual([4, 3, 2]);
      expect(await ids({ limit: 3, before: 2 })).toEqual([1]);
      expect(await ids({ before: 1 })).toEqual([]);
      expect(await ids({ pipeline: "deploy", before: 5 })).toEqual([4, 2]);
      expect(await ids({ limit: 5000 })).toHaveLength(7);
      expect((await store.pipelines.listRuns({ pipeline: "ci" }))[2]).toEqual(
        await store.pipelines.getRun(1),
      );

      for (let i = 0; i < 22; i++) await store.pipelines.createRun(runInput({ pipeline: "bulk" }));
      expect(await ids()).toHaveLength(20);
      expect((await store.pipelines.listRuns())[0]).toMatchObject({ id: 29, number: 22 });

      const bad: PipelineRunQuery[] = [
        { limit: 0 },
        { limit: 1.5 },
        { before: 0 },
        { pipeline: "Not A Label" },
        { statuses: ["done" as "queued"] },
        { statuses: "queued" as unknown as ["queued"] },
        { concurrencyGroup: "" },
      ];
      for (const query of bad) {
        expect((await rejection(store.pipelines.listRuns(query))).code, JSON.stringify(query)).toBe(
          "invalid_request",
        );
      }
    });

    it("rejects malformed runs and updates with invalid_request and writes nothing", async () => {
      store = await backend.open({ now: clock.now });
      const bad: Partial<PipelineRunInput>[] = [
        { pipeline: "" },
        { pipeline: "CI" },
        { pipeline: "1ci" },
        { pipeline: "ci_main" },
        { pipeline: "c".repeat(64) },
        { trigger: trigger({ kind: "cron" as "push" }) },
        { trigger: trigger({ actor: "" }) },
        { trigger: trigger({ ref: undefined as unknown as null }) },
        { trigger: trigger({ inputs: { n: NaN } }) },
        { trigger: trigger({ inputs: { o: {} as string } }) },
        { trigger: trigger({ scheduledAt: "tomorrow" }) },
        { trigger: trigger({ rerunOf: 0 }) },
        { trigger: trigger({ changedPaths: [1 as unknown as string] }) },
        { trigger: null as unknown as PipelineTrigger },
        { status: "done" as "queued" },
        { configRevision: -1 },
        { concurrencyGroup: "" },
        { spec: undefined },
        { state: undefined },
      ];
      for (const overrides of bad) {
        const error = await rejection(store.pipelines.createRun(runInput(overrides)));
        expect(error.code, JSON.stringify(overrides)).toBe("invalid_request");
      }
      expect(await rows("pipeline_runs")).toEqual([]);
      expect(await store.events.list()).toEqual([]);
      await store.pipelines.createRun(runInput({ pipeline: "c".repeat(63) }));

      const run = await store.pipelines.createRun(runInput());
      const update = { id: run.id, expectedRevision: 1, status: "running" as const, state: {} };
      const badUpdates: PipelineRunUpdate[] = [
        { ...update, id: 0 },
        { ...update, id: 1.5 },
        { ...update, expectedRevision: 0 },
        { ...update, status: "done" as "running" },
        { ...update, state: undefined as unknown as JsonValue },
        { ...update, markStarted: "yes" as unknown as boolean },
        { ...update, events: [{ type: "", actor: "runner" }] },
      ];
      for (const attempt of badUpdates) {
        const error = await rejection(store.pipelines.updateRun(attempt));
        expect(error.code, JSON.stringify(attempt)).toBe("invalid_request");
      }
      expect(await store.pipelines.getRun(run.id)).toEqual(run);
      expect((await rejection(store.pipelines.getRun(0))).code).toBe("invalid_request");
    });

    it("gives concurrent creates from two store handles distinct numbers", async () => {
      store = await backend.open({ now: clock.now });
      const other = await backend.open({ now: clock.now, sameDatabaseAs: store });
      try {
        const created = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? store : other).pipelines.createRun(
              runInput({ pipeline: i % 3 === 0 ? "deploy" : "ci", trigger: trigger({ actor: `a${i}` }) }),
            ),
          ),
        );
        expect(new Set(created.map((r) => r.id)).size).toBe(10);
        const numbers = (pipeline: string) =>
          created
            .filter((r) => r.pipeline === pipeline)
            .map((r) => r.number)
            .sort((a, b) => a - b);
        expect(numbers("deploy")).toEqual([1, 2, 3, 4]);
        expect(numbers("ci")).toEqual([1, 2, 3, 4, 5, 6]);
        expect(await other.pipelines.listRuns()).toHaveLength(10);
        expect(await store.events.list({ types: ["pipeline.run.created"] })).toHaveLength(10);
      } finally {
        await other.close();
      }
    });
  });
});
