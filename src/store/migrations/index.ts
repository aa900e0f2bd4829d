import { Migrator, type Kysely, type Migration, type MigrationProvider } from "kysely";

import { SlipwayError } from "../../util/index.js";
import type { Dialect } from "../schema.js";
import { errorMessage } from "../store-errors.js";
import * as initial from "./0001-initial.js";
import * as delivery from "./0002-delivery.js";
import * as pipelines from "./0003-pipelines.js";
import * as secrets from "./0004-secrets.js";
import * as heartbeat from "./0005-heartbeat.js";

/**
 * Migrations live in code (not a folder scanned at runtime) so the compiled package and the bundled
 * binary carry them without file-system lookups. Names sort in the order they must run; never rename
 * or edit a released one — add the next number instead.
 */
export function createMigrationProvider(dialect: Dialect): MigrationProvider {
  const migrations: Record<string, Migration> = {
    "0001-initial": { up: (db) => initial.up(db, dialect), down: (db) => initial.down(db) },
    "0002-delivery": { up: (db) => delivery.up(db), down: (db) => delivery.down(db) },
    "0003-pipelines": { up: (db) => pipelines.up(db), down: (db) => pipelines.down(db) },
    "0004-secrets": { up: (db) => secrets.up(db), down: (db) => secrets.down(db) },
    "0005-heartbeat": { up: (db) => heartbeat.up(db), down: (db) => heartbeat.down(db) },
  };
  return { getMigrations: () => Promise.resolve(migrations) };
}

/**
 * Brings the schema to the latest version. Safe when several processes open the store at once: on
 * PostgreSQL kysely holds an advisory lock for the run, on SQLite the run is one `BEGIN IMMEDIATE`
 * transaction (see `sqlite.ts`), so the second process waits and then finds nothing to do.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: Dialect,
  location: string,
): Promise<void> {
  const migrator = new Migrator({ db, provider: createMigrationProvider(dialect) });
  const { error } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const reason = errorMessage(error);
  if (reason.startsWith("corrupted migrations")) {
    // Kysely's wording for "the database knows a migration this build does not": a newer Slipway wrote it.
    throw new SlipwayError(
      "store_unavailable",
      `the database at ${location} has a newer schema than this Slipway`,
      {
        hint: "upgrade Slipway, or point it at another database",
        cause: error,
      },
    );
  }
  throw error instanceof Error ? error : new Error(reason);
}
