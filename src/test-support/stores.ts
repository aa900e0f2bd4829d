/**
 * Store backends for tests: every store test runs once per backend with
 * `describe.each(storeBackends())("… on $name", (backend) => { … backend.open() … })`.
 *
 * Each `open()` gets its own world — a fresh temp directory (SQLite) or a fresh database on the run's
 * PostgreSQL cluster (see global-setup.ts) — so tests and test files never see each other's data.
 * Call `storeBackends()` at collection time (top level or inside `describe`): it registers an `afterAll`
 * that closes every store it opened, drops the databases and removes the directories. Tests may close
 * stores themselves too; closing twice is fine.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, inject, test } from "vitest";

import { openStore, type Store, type StoreOptions } from "../store/index.js";

export type StoreBackendName = "sqlite" | "postgres";

export interface BackendOpenOptions {
  now?: StoreOptions["now"];
  onListenerError?: StoreOptions["onListenerError"];
  /** Open a second Store on the same database as this one (it must come from the same backend). */
  sameDatabaseAs?: Store;
}

export interface StoreBackend {
  name: StoreBackendName;
  /** A new, migrated, empty store (or, with `sameDatabaseAs`, another handle on an existing one). */
  open(options?: BackendOpenOptions): Promise<Store>;
  /** Options for a fresh, empty, not yet migrated database, cleaned up like `open()`'s. */
  prepare(): Promise<StoreOptions>;
  /** The options `open()` passed to `openStore` for that store, to open it again differently. */
  optionsOf(store: Store): StoreOptions;
  /** Runs raw SQL on a separate connection to a store's database: to inspect what was stored, or tamper with it. */
  query(target: Store | StoreOptions, text: string): Promise<Record<string, unknown>[]>;
}

interface Tracker {
  stores: Store[];
  dirs: string[];
  databases: string[];
  optionsByStore: WeakMap<Store, StoreOptions>;
}

function withDatabase(baseUrl: string, database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminQuery(baseUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function createBackend(name: StoreBackendName, pgUrl: string | null, tracker: Tracker): StoreBackend {
  const freshOptions = async (): Promise<StoreOptions> => {
    const dataDir = mkdtempSync(join(tmpdir(), "slipway-store-"));
    tracker.dirs.push(dataDir);
    if (name === "sqlite") return { dataDir };
    // Names are generated, never user input, so interpolating them into DDL is safe.
    const database = `slipway_test_${randomBytes(6).toString("hex")}`;
    await adminQuery(pgUrl!, `create database ${database}`);
    tracker.databases.push(database);
    return { dataDir, databaseUrl: withDatabase(pgUrl!, database) };
  };
  const optionsOf = (store: Store): StoreOptions => {
    const found = tracker.optionsByStore.get(store);
    if (found === undefined) throw new Error("that store was not opened by this backend");
    return found;
  };
  return {
    name,
    async open(options = {}) {
      const { sameDatabaseAs, ...rest } = options;
      const base =
        sameDatabaseAs === undefined ? await freshOptions() : tracker.optionsByStore.get(sameDatabaseAs);
      if (base === undefined) throw new Error("sameDatabaseAs: that store was not opened by this backend");
      const storeOptions: StoreOptions = { ...base, ...rest };
      const store = await openStore(storeOptions);
      tracker.stores.push(store);
      tracker.optionsByStore.set(store, storeOptions);
      return store;
    },
    prepare: freshOptions,
    optionsOf,
    async query(target, text) {
      const options = "dataDir" in target ? target : optionsOf(target);
      if (options.databaseUrl !== undefined) {
        const client = new pg.Client({ connectionString: options.databaseUrl });
        await client.connect();
        try {
          return (await client.query<Record<string, unknown>>(text)).rows;
        } finally {
          await client.end();
        }
      }
      const database = new Database(join(options.dataDir, "slipway.db"));
      try {
        const statement = database.prepare(text);
        if (statement.reader) return statement.all() as Record<string, unknown>[];
        statement.run();
        return [];
      } finally {
        database.close();
      }
    },
  };
}

async function cleanUp(tracker: Tracker, pgUrl: string | null): Promise<void> {
  await Promise.all(tracker.stores.map((s) => s.close().catch(() => undefined)));
  for (const database of tracker.databases) {
    // FORCE: a test that forgot to close a store must not keep the database (and the run) alive.
    await adminQuery(pgUrl!, `drop database if exists ${database} with (force)`);
  }
  for (const dir of tracker.dirs) rmSync(dir, { recursive: true, force: true });
  tracker.stores.length = 0;
  tracker.databases.length = 0;
  tracker.dirs.length = 0;
}

/**
 * The backends to run store-backed tests on: SQLite always, PostgreSQL unless the run was started with
 * SLIPWAY_TEST_POSTGRES=off — then a skipped test says so, so the gap shows in the report.
 */
export function storeBackends(): StoreBackend[] {
  const pgUrl = inject("pgUrl");
  const tracker: Tracker = { stores: [], dirs: [], databases: [], optionsByStore: new WeakMap() };
  afterAll(() => cleanUp(tracker, pgUrl));
  const backends = [createBackend("sqlite", pgUrl, tracker)];
  if (pgUrl === null) {
    test.skip("postgres backend: skipped because SLIPWAY_TEST_POSTGRES=off", () => undefined);
  } else {
    backends.push(createBackend("postgres", pgUrl, tracker));
  }
  return backends;
}

/** The base URL of the run's PostgreSQL cluster (database `postgres`), or null when it is off. */
export function postgresBaseUrl(): string | null {
  return inject("pgUrl");
}
