import {
  Kysely,
  PostgresDialect,
  PostgresDriver,
  sql,
  type DatabaseConnection,
  type Driver,
  type PostgresDialectConfig,
} from "kysely";
import pg from "pg";

import { SlipwayError } from "../util/index.js";
import type { StoreDatabase, StoreDb } from "./schema.js";
import {
  errorCode,
  errorMessage,
  storeFault,
  storeUnavailable,
  type StoreOperation,
} from "./store-errors.js";

export function isPostgresUrl(url: string): boolean {
  return url.startsWith("postgres://") || url.startsWith("postgresql://");
}

export interface PostgresTarget {
  /** The URL with any password replaced by `***`, for messages and `Store.location`. */
  location: string;
  /** `host:port` as a person would look for it; a socket directory when connecting over a Unix socket. */
  hostPort: string;
  password: string;
}

/** Reads what messages may show from a connection URL. Never returns the password inside a string. */
export function describePostgresUrl(databaseUrl: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch (e) {
    // The text may hold a password, so it is not repeated.
    throw new SlipwayError("store_unavailable", "the PostgreSQL database URL is not a valid URL", {
      hint: "use the form postgres://user:password@host:5432/database",
      cause: e,
    });
  }
  const password = decodeURIComponent(url.password);
  if (url.password !== "") url.password = "***";
  if (url.searchParams.has("password")) url.searchParams.set("password", "***");
  const host = url.hostname !== "" ? url.hostname : (url.searchParams.get("host") ?? "localhost");
  return { location: url.toString(), hostPort: `${host}:${url.port !== "" ? url.port : "5432"}`, password };
}

/**
 * int8 (bigint, `count(*)`, the event id) arrives from pg as a string by default, to be safe beyond
 * 2^53. Our ids and counts stay far below that, so they come back as numbers — per pool, because pg's
 * global `types.setTypeParser` would change every other pg user in the process.
 */
const poolTypes: pg.CustomTypesConfig = {
  getTypeParser: (id, format) =>
    id === pg.types.builtins.INT8 && format !== "binary"
      ? (value: string) => Number(value)
      : (pg.types.getTypeParser(id, format) as unknown),
};

/** Wording shared by open-time and later failures (server restarted, network gone). */
export function postgresUnavailable(target: PostgresTarget, e: unknown): SlipwayError {
  let reason = errorMessage(e);
  // Belt and braces: no driver message should contain the password, but if one ever does, it is cut here.
  if (target.password !== "") reason = reason.split(target.password).join("***");
  const code = errorCode(e);
  const hint =
    code === "28P01" || code === "28000"
      ? "check the user and password in the database URL"
      : code === "3D000"
        ? "create the database first (createdb), or fix its name in the database URL"
        : "check that PostgreSQL is running and reachable from here, and the database URL";
  return new SlipwayError("store_unavailable", `cannot use PostgreSQL at ${target.hostPort}: ${reason}`, {
    hint,
    details: { location: target.location },
    cause: e,
  });
}

/**
 * Migration failures that are not about reaching the server: a role that may not create tables, or a
 * read-only server (a hot standby), is PostgreSQL's "unwritable"; anything else means the schema
 * could not be brought up to date.
 */
export function postgresMigrationError(target: PostgresTarget, e: unknown): SlipwayError {
  const code = errorCode(e);
  if (code === "42501" || code === "25006") {
    return new SlipwayError(
      "store_unwritable",
      `cannot write to PostgreSQL at ${target.hostPort}: ${errorMessage(e)}`,
      {
        hint: "connect as a role that owns the database (or may create tables in it), on the primary server",
        details: { location: target.location },
        cause: e,
      },
    );
  }
  return new SlipwayError(
    "store_unavailable",
    `cannot migrate the database at ${target.location}: ${errorMessage(e)}`,
    {
      details: { location: target.location },
      cause: e,
    },
  );
}

/**
 * Trap: when the connection dies inside a transaction (server shut down, network gone), kysely's
 * ROLLBACK fails too ("Connection terminated unexpectedly") and kysely throws that instead of the error
 * that caused it. A failed rollback here means the connection is gone, and pg's pool discards a client
 * that is no longer queryable, so nothing is left half-open: report the original error (kysely rethrows
 * it when this returns).
 */
class SlipwayPostgresDriver extends PostgresDriver {
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } catch {
      // See above: the original error is the one to report.
    }
  }
}

class SlipwayPostgresDialect extends PostgresDialect {
  readonly #config: PostgresDialectConfig;

  constructor(config: PostgresDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new SlipwayPostgresDriver(this.#config);
  }
}

/** Opens a pool and proves it can reach the server; errors name host:port, never the password. */
export async function openPostgres(databaseUrl: string): Promise<{ db: StoreDb; target: PostgresTarget }> {
  const target = describePostgresUrl(databaseUrl);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    types: poolTypes,
    max: 10,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled it would crash the
  // process. The next query on a fresh client reports the problem where someone is listening.
  pool.on("error", () => undefined);
  // A client that is checked out (inside a transaction, between two queries) when its server goes away
  // emits 'error' on itself, not on the pool: without a listener that is an uncaught exception that
  // ends the control plane. The query in flight (or the next one) rejects with the cause anyway, and
  // the pool drops the broken client when it is released.
  pool.on("connect", (client) => {
    client.on("error", () => undefined);
  });
  const db = new Kysely<StoreDatabase>({ dialect: new SlipwayPostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy();
    throw postgresUnavailable(target, e);
  }
  return { db, target };
}

/**
 * Error mapping after open for PostgreSQL: a lost connection, a server shutting down, a full disk, a
 * read-only server is `store_unavailable` carrying the SQLSTATE (never the password); anything else
 * (a constraint, a serialization failure) stays as is for the repositories to read.
 */
export function createPostgresErrorMapper(
  target: PostgresTarget,
): (e: unknown, operation?: StoreOperation) => unknown {
  const redact = (text: string) => (target.password === "" ? text : text.split(target.password).join("***"));
  return (e, operation = "write") => {
    if (e instanceof SlipwayError) return e;
    const fault = storeFault(e);
    if (fault === undefined) return e;
    return storeUnavailable(`PostgreSQL at ${target.hostPort}`, operation, fault, e, redact);
  };
}
