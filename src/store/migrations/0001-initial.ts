import type { Kysely } from "kysely";

import type { Dialect } from "../schema.js";

/**
 * The first schema: config revisions, the objects they declare, the event log, and API tokens.
 * Column types are the portable subset (text, integer); the event id is the one place the dialects
 * differ, because SQLite spells an auto-incrementing key differently from PostgreSQL's identity column.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable("config_revisions")
    .addColumn("revision", "integer", (col) => col.primaryKey())
    .addColumn("author", "text", (col) => col.notNull())
    .addColumn("created_at", "text", (col) => col.notNull())
    .addColumn("source_file", "text", (col) => col.notNull())
    .addColumn("source_hash", "text", (col) => col.notNull())
    .addColumn("source", "text", (col) => col.notNull())
    .addColumn("git_commit", "text")
    .addColumn("summary", "text", (col) => col.notNull())
    .execute();

  await db.schema
    .createTable("objects")
    .addColumn("kind", "text", (col) => col.notNull())
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("spec", "text", (col) => col.notNull())
    .addColumn("revision", "integer", (col) => col.notNull())
    .addPrimaryKeyConstraint("objects_pk", ["kind", "name"])
    .execute();

  await db.schema
    .createTable("events")
    .addColumn("id", dialect === "postgres" ? "bigint" : "integer", (col) =>
      // SQLite: AUTOINCREMENT so ids of deleted rows are never reused (readers page with `after`).
      dialect === "postgres"
        ? col.primaryKey().generatedAlwaysAsIdentity()
        : col.primaryKey().autoIncrement(),
    )
    .addColumn("at", "text", (col) => col.notNull())
    .addColumn("type", "text", (col) => col.notNull())
    .addColumn("actor", "text", (col) => col.notNull())
    .addColumn("object_kind", "text")
    .addColumn("object_name", "text")
    .addColumn("payload", "text", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("events_type_idx").on("events").column("type").execute();

  await db.schema
    .createTable("tokens")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("role", "text", (col) => col.notNull())
    .addColumn("prefix", "text", (col) => col.notNull())
    .addColumn("token_hash", "text", (col) => col.notNull().unique())
    .addColumn("created_at", "text", (col) => col.notNull())
    .addColumn("created_by", "text", (col) => col.notNull())
    .addColumn("last_used_at", "text")
    .addColumn("revoked_at", "text")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("tokens").execute();
  await db.schema.dropTable("events").execute();
  await db.schema.dropTable("objects").execute();
  await db.schema.dropTable("config_revisions").execute();
}
