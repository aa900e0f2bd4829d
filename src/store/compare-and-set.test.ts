import { afterEach, describe, expect, test } from "vitest";

import { storeBackends, type StoreBackend } from "../test-support/stores.js";
import { SlipwayError } from "../util/index.js";
import {
  compareAndSet,
  PIPELINE_RUN_RECORD,
  recordNotFound,
  ROLLOUT_RECORD,
  staleRevision,
} from "./compare-and-set.js";
import type { PipelineRunInput, Store } from "./index.js";
import { openPostgres } from "./postgres.js";
import type { StoreDb } from "./schema.js";
import { openSqlite } from "./sqlite.js";

const RUN: PipelineRunInput = {
  pipeline: "ci",
  trigger: {
    kind: "manual",
    actor: "ana",
    ref: null,
    sha: null,
    branch: null,
    tag: null,
    repository: null,
    inputs: {},
  },
  spec: { jobs: {} },
  configRevision: 1,
  concurrencyGroup: null,
  state: { jobs: {} },
};

async function rejection(promise: Promise<unknown>): Promise<SlipwayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SlipwayError);
  return error as SlipwayError;
}

describe("compare-and-set errors", () => {
  test("a stale revision is stale_write, naming the record, both revisions and how to recover", () => {
    const error = staleRevision(ROLLOUT_RECORD, 7, 2, 3);
    expect(error.code).toBe("stale_write");
    expect(error.message).toBe("rollout 7 is at revision 3, not 2; nothing was changed");
    expect(error.hint).toBe("read the rollout again and retry");
    expect(error.details).toEqual({ rolloutId: 7, expectedRevision: 2, currentRevision: 3 });
    const run = staleRevision(PIPELINE_RUN_RECORD, 4, 1, 5);
    expect(run.message).toBe("pipeline run 4 is at revision 5, not 1; nothing was changed");
    expect(run.hint).toBe("read the run again and retry");
    expect(run.details).toEqual({ runId: 4, expectedRevision: 1, currentRevision: 5 });
  });

  test("an unknown id is not_found", () => {
    const error = recordNotFound(PIPELINE_RUN_RECORD, 9);
    expect([error.code, error.message]).toEqual(["not_found", "no pipeline run 9"]);
    expect(recordNotFound(ROLLOUT_RECORD, 9).message).toBe("no rollout 9");
  });
});

describe.each(storeBackends())("compareAndSet on $name", (backend: StoreBackend) => {
  const opened: StoreDb[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.destroy()));
  });

  /** A store with one pipeline run (id 1, revision 1), and a second handle on its database. */
  async function setUp(): Promise<{ store: Store; db: StoreDb }> {
    const store = await backend.open();
    await store.pipelines.createRun(RUN);
    const options = backend.optionsOf(store);
    const { db } =
      options.databaseUrl === undefined
        ? openSqlite(options.dataDir)
        : await openPostgres(options.databaseUrl);
    opened.push(db);
    return { store, db };
  }

  /** Sets the run's status, expecting `expectedRevision`, in one transaction. */
  function setStatus(db: StoreDb, id: number, expectedRevision: number, status: string) {
    return db.transaction().execute((trx) =>
      compareAndSet(PIPELINE_RUN_RECORD, {
        id,
        expectedRevision,
        read: () => trx.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst(),
        update: (current, revision) => ({
          query: trx.updateTable("pipeline_runs").set({ status, revision }),
          written: { ...current, status, revision },
        }),
      }),
    );
  }

  test("writes when the revision is the one read, and returns the row as read and as written", async () => {
    const { store, db } = await setUp();
    const { current, written } = await setStatus(db, 1, 1, "running");
    expect([current.status, current.revision]).toEqual(["queued", 1]);
    expect([written.status, written.revision]).toEqual(["running", 2]);
    const run = await store.pipelines.getRun(1);
    expect([run.status, run.revision]).toEqual(["running", 2]);
  });

  test("refuses a writer whose revision moved, and changes nothing", async () => {
    const { store, db } = await setUp();
    await setStatus(db, 1, 1, "running");
    const stale = await rejection(setStatus(db, 1, 1, "cancelled"));
    expect(stale.code).toBe("stale_write");
    expect(stale.details).toEqual({ runId: 1, expectedRevision: 1, currentRevision: 2 });
    const run = await store.pipelines.getRun(1);
    expect([run.status, run.revision]).toEqual(["running", 2]);
  });

  test("an unknown id is not_found, and the update is never built", async () => {
    const { db } = await setUp();
    let built = false;
    const missing = await rejection(
      db.transaction().execute((trx) =>
        compareAndSet(PIPELINE_RUN_RECORD, {
          id: 99,
          expectedRevision: 1,
          read: () => trx.selectFrom("pipeline_runs").selectAll().where("id", "=", 99).executeTakeFirst(),
          update: () => {
            built = true;
            return { query: trx.updateTable("pipeline_runs").set({ status: "running" }), written: null };
          },
        }),
      ),
    );
    expect([missing.code, missing.message]).toEqual(["not_found", "no pipeline run 99"]);
    expect(built).toBe(false);
  });

  test("an update that refuses the change writes nothing", async () => {
    const { store, db } = await setUp();
    const refusal = new SlipwayError("rollout_in_progress", "no");
    const error = await rejection(
      db.transaction().execute((trx) =>
        compareAndSet(PIPELINE_RUN_RECORD, {
          id: 1,
          expectedRevision: 1,
          read: () => trx.selectFrom("pipeline_runs").selectAll().where("id", "=", 1).executeTakeFirst(),
          update: () => {
            throw refusal;
          },
        }),
      ),
    );
    expect(error).toBe(refusal);
    const run = await store.pipelines.getRun(1);
    expect([run.status, run.revision]).toEqual(["queued", 1]);
  });

  test("of two stores that read the same revision, exactly one writes", async () => {
    const { store } = await setUp();
    const other = await backend.open({ sameDatabaseAs: store });
    const outcomes = await Promise.allSettled([
      store.pipelines.updateRun({ id: 1, expectedRevision: 1, status: "running", state: {} }),
      other.pipelines.updateRun({ id: 1, expectedRevision: 1, status: "cancelled", state: {} }),
    ]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const loser = outcomes.find((o) => o.status === "rejected");
    expect(loser?.reason).toBeInstanceOf(SlipwayError);
    expect((loser?.reason as SlipwayError).code).toBe("stale_write");
    expect((await store.pipelines.getRun(1)).revision).toBe(2);
  });
});
