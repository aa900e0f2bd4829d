import { setTimeout as sleep } from "node:timers/promises";

import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

import { SmallDisk, smallDiskSkipReason } from "../test-support/small-disk.js";
import { postgresBaseUrl, storeBackends } from "../test-support/stores.js";
import { waitFor } from "../test-support/wait-for.js";
import { SlipwayError } from "../util/index.js";
import { openStore, type Store, type StoreOptions } from "./index.js";
import { openPostgres } from "./postgres.js";
import { sql } from "kysely";

/** What a store failure must look like to a caller: the coded error with the driver's cause in it. */
function expectUnavailable(error: unknown, cause: string): SlipwayError {
  expect(error, String(error)).toBeInstanceOf(SlipwayError);
  const e = error as SlipwayError;
  expect(e.code).toBe("store_unavailable");
  expect(e.message).toContain(cause);
  expect(e.details).toMatchObject({ cause });
  expect(e.message).not.toMatch(/cannot rollback|not queryable/);
  return e;
}

const PAD = "x".repeat(1500);

/** Appends until the store refuses (a full disk can still take a few writes: SQLite reuses its WAL). */
async function appendUntilRefused(store: Store, max = 5000): Promise<{ accepted: number; error: unknown }> {
  for (let accepted = 0; accepted < max; accepted += 1) {
    try {
      await store.events.append({ type: "probe.filled", actor: "test", payload: { n: accepted, pad: PAD } });
    } catch (error) {
      return { accepted, error };
    }
  }
  throw new Error(`the store took ${max} writes on a full disk`);
}

const diskSkip = smallDiskSkipReason();

describe.skipIf(diskSkip !== undefined)(
  `SQLite on a full disk${diskSkip === undefined ? "" : ` (${diskSkip})`}`,
  () => {
    const disks: SmallDisk[] = [];
    const stores: Store[] = [];
    afterAll(async () => {
      for (const store of stores) await store.close().catch(() => undefined);
      for (const disk of disks) disk.unmount();
    });

    async function openOnSmallDisk(
      options: Partial<StoreOptions> = {},
    ): Promise<{ store: Store; disk: SmallDisk }> {
      const disk = SmallDisk.mount(8);
      disks.push(disk);
      const store = await openStore({ dataDir: `${disk.dir}/data`, ...options });
      stores.push(store);
      return { store, disk };
    }

    it("refuses a write with store_unavailable naming SQLITE_FULL, keeps reading, and writes again once space is back", async () => {
      const { store, disk } = await openOnSmallDisk();
      for (let i = 0; i < 50; i += 1)
        await store.events.append({ type: "probe.before", actor: "test", payload: { pad: PAD } });
      disk.fill();
      const { error } = await appendUntilRefused(store);
      const e = expectUnavailable(error, "SQLITE_FULL");
      expect(e.message).toMatch(/disk is full/);
      expect(e.hint).toMatch(/free/i);

      // Nothing of the refused write is there, and reads are answered.
      const stored = await store.events.list({ types: ["probe."], limit: 1000 });
      const after = await store.events.list({ types: ["probe."], limit: 1000 });
      expect(after).toEqual(stored);
      // The refusal is what the next write sees too, every time (no stuck transaction, no other error).
      expectUnavailable(
        await store.events
          .append({ type: "probe.again", actor: "t", payload: { pad: PAD } })
          .catch((x: unknown) => x),
        "SQLITE_FULL",
      );

      disk.free();
      const written = await store.events.append({ type: "probe.after", actor: "test" });
      expect(written.id).toBeGreaterThan(stored.at(-1)?.id ?? 0);
    });

    it("accepts a token on a full disk: the lastUsedAt touch is only a hint and is skipped", async () => {
      let now = Date.parse("2025-01-01T00:00:00Z");
      const { store, disk } = await openOnSmallDisk({ now: () => new Date(now) });
      const { token, record } = await store.tokens.create({ name: "ci", role: "viewer", createdBy: "test" });
      expect(await store.tokens.verify(token)).toMatchObject({ id: record.id });
      disk.fill();
      await appendUntilRefused(store);
      now += 3_600_000; // an hour on: verify wants to touch lastUsedAt
      expect(await store.tokens.verify(token)).toMatchObject({ id: record.id });
      disk.free();
    });

    it("checkWritable says not writable, with the cause, while the disk is full, and writable once space is back", async () => {
      const { store, disk } = await openOnSmallDisk();
      expect(await store.checkWritable()).toMatchObject({ writable: true });
      disk.fill();
      const full = await store.checkWritable();
      expect(full.writable).toBe(false);
      expect(full.failure).toMatchObject({ cause: "ENOSPC" });
      expect(full.failure?.reason).toMatch(/disk is full/);

      const { error } = await appendUntilRefused(store);
      expectUnavailable(error, "SQLITE_FULL");
      expect((await store.checkWritable()).lastWriteError).toMatchObject({ cause: "SQLITE_FULL" });

      disk.free();
      const back = await store.checkWritable();
      expect(back.writable, JSON.stringify(back)).toBe(true);
      // The failed write stays reported (it happened) until a write of the store's own succeeds.
      expect(back.lastWriteError).toMatchObject({ cause: "SQLITE_FULL" });
      await store.events.append({ type: "probe.after", actor: "test" });
      expect((await store.checkWritable()).lastWriteError).toBeUndefined();
    });
  },
);

describe.each(storeBackends())("store writability on $name", (backend) => {
  it("checkWritable on a healthy store: writable, no failure, and it changes nothing a reader sees", async () => {
    const store = await backend.open();
    const before = await store.events.list();
    const answer = await store.checkWritable();
    expect(answer.writable).toBe(true);
    expect(answer.failure).toBeUndefined();
    expect(answer.lastWriteError).toBeUndefined();
    expect(Date.parse(answer.checkedAt)).not.toBeNaN();
    expect(await store.events.list()).toEqual(before);
    expect(await store.config.currentRevision()).toBe(0);
  });
});

const pgUrl = postgresBaseUrl();

describe.skipIf(pgUrl === null)("PostgreSQL that cannot be written", () => {
  const [, postgres] = storeBackends();

  async function admin<T extends pg.QueryResultRow>(store: Store, text: string): Promise<T[]> {
    return (await postgres!.query(store, text)) as T[];
  }

  it("a connection killed inside a write transaction is store_unavailable carrying 57P01, not the failed rollback", async () => {
    const store = await postgres!.open();
    const url = postgres!.optionsOf(store).databaseUrl!;
    // Hold the store's write lock so its transaction waits inside BEGIN … for us to kill it.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("select pg_advisory_lock(126909462640481)");
      const writing = store.events.append({ type: "probe.killed", actor: "test" }).catch((e: unknown) => e);
      const waiting = await waitFor(
        async () => {
          const rows = await admin<{ pid: number }>(
            store,
            "select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          );
          return rows.length > 0 && rows;
        },
        { what: "the write to wait on the lock", intervalMs: 25 },
      );
      expect(waiting).toHaveLength(1);
      await admin(store, `select pg_terminate_backend(${waiting[0]!.pid})`);
      expectUnavailable(await writing, "57P01");
    } finally {
      await holder.end();
    }
    expect(await store.events.list({ types: ["probe."] })).toEqual([]);
    // A fresh connection serves the next write.
    await store.events.append({ type: "probe.after", actor: "test" });
  });

  it("a read whose connection is terminated is sent again on a fresh one: the caller gets its answer", async () => {
    const store = await postgres!.open();
    await store.events.append({ type: "probe.kept", actor: "test" });
    const url = postgres!.optionsOf(store).databaseUrl!;
    // Hold a lock the read must wait for, so it is in flight when its backend is terminated.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("lock table events in access exclusive mode");
      const reading = store.events.list({ types: ["probe."] });
      const waiting = await waitFor(
        async () => {
          const { rows } = await holder.query<{ pid: number }>(
            "select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          );
          return rows.length > 0 && rows;
        },
        { what: "the read to wait on the lock", intervalMs: 25 },
      );
      expect(waiting).toHaveLength(1);
      await holder.query(`select pg_terminate_backend(${waiting[0]!.pid})`);
      await holder.query("commit");
      expect((await reading).map((e) => e.type)).toEqual(["probe.kept"]);
    } finally {
      await holder.end();
    }
  });

  it("a connection lost while checked out between two queries of a transaction does not crash the process", async () => {
    const store = await postgres!.open();
    const url = postgres!.optionsOf(store).databaseUrl!;
    const { db } = await openPostgres(url);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    // vitest reports uncaught exceptions as run errors; listening here makes this test say it instead.
    process.on("uncaughtException", onUncaught);
    try {
      const outcome = await db
        .transaction()
        .execute(async (trx) => {
          const [row] = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows;
          await admin(store, `select pg_terminate_backend(${row!.pid})`);
          // The client is idle, checked out, when its server goes away: pg emits 'error' on it. The sleep is
          // the scenario (an idle client while the server leaves), not a wait for a condition we could poll.
          await sleep(300);
          await sql`select 1`.execute(trx);
        })
        .then(
          () => "committed",
          (e: unknown) => e,
        );
      expect(outcome).toBeInstanceOf(Error);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
      await db.destroy();
    }
  });

  it("a read-only server: writes are store_unavailable (25006), reads go on, checkWritable tells, and it recovers", async () => {
    const store = await postgres!.open();
    const database = new URL(postgres!.optionsOf(store).databaseUrl!).pathname.slice(1);
    // From the cluster's `postgres` database: sessions in the store's database are read-only meanwhile.
    const server = async (text: string) => {
      const client = new pg.Client({ connectionString: pgUrl! });
      await client.connect();
      try {
        await client.query(text);
      } finally {
        await client.end();
      }
    };
    const kick = () =>
      server(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database}'`);
    await server(`alter database ${database} set default_transaction_read_only = on`);
    await kick();
    // The pool may hand out one connection it has not noticed is gone yet: that one is a connection error.
    let error: unknown;
    for (let i = 0; i < 5; i += 1) {
      error = await store.events.append({ type: "probe.readonly", actor: "test" }).catch((e: unknown) => e);
      if (error instanceof SlipwayError && (error.details as { cause?: string }).cause === "25006") break;
    }
    expect(expectUnavailable(error, "25006").message).toMatch(/read-only/);
    expect(await store.events.list({ types: ["probe."] })).toEqual([]);
    const answer = await store.checkWritable();
    expect(answer.writable).toBe(false);
    expect(answer.failure).toMatchObject({ cause: "25006" });
    expect(answer.lastWriteError).toMatchObject({ cause: "25006" });

    await server(`alter database ${database} reset default_transaction_read_only`);
    await kick();
    let back = await store.checkWritable();
    for (let i = 0; i < 5 && !back.writable; i += 1) back = await store.checkWritable();
    expect(back.writable, JSON.stringify(back)).toBe(true);
    await store.events.append({ type: "probe.after", actor: "test" });
    expect((await store.checkWritable()).lastWriteError).toBeUndefined();
  });
});
