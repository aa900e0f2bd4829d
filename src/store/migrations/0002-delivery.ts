import { sql, type Kysely } from "kysely";

/**
 * Delivery: releases (immutable, per service and version), the slot each service has in each
 * environment, the rollouts that change a slot, and the verdicts a rollout recorded. Same portable
 * subset as 0001: text (ISO timestamps, JSON), integer. Rollout and verdict ids are plain integer keys
 * assigned as max + 1 inside the (serialized) write transaction, so no dialect-specific identity column
 * is needed. `artifact_bytes` is a bigint because artifacts may pass 2 GiB (PostgreSQL's integer is 32
 * bits; SQLite treats both the same).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("releases")
    .addColumn("service", "text", (col) => col.notNull())
    .addColumn("version", "text", (col) => col.notNull())
    // Creation order within the database (max + 1): "newest first" must not depend on clock ties.
    .addColumn("seq", "integer", (col) => col.notNull().unique())
    .addColumn("artifact_dir", "text", (col) => col.notNull())
    .addColumn("artifact_hash", "text", (col) => col.notNull())
    .addColumn("artifact_bytes", "bigint", (col) => col.notNull())
    .addColumn("artifact_files", "integer", (col) => col.notNull())
    .addColumn("git_commit", "text")
    .addColumn("config", "text", (col) => col.notNull())
    .addColumn("config_revision", "integer", (col) => col.notNull())
    .addColumn("created_by", "text", (col) => col.notNull())
    .addColumn("created_at", "text", (col) => col.notNull())
    .addPrimaryKeyConstraint("releases_pk", ["service", "version"])
    .execute();

  await db.schema
    .createTable("slots")
    .addColumn("service", "text", (col) => col.notNull())
    .addColumn("env", "text", (col) => col.notNull())
    .addColumn("stable", "text")
    .addColumn("warm", "text", (col) => col.notNull())
    .addColumn("revision", "integer", (col) => col.notNull())
    .addColumn("updated_at", "text", (col) => col.notNull())
    .addPrimaryKeyConstraint("slots_pk", ["service", "env"])
    .execute();

  await db.schema
    .createTable("rollouts")
    .addColumn("id", "integer", (col) => col.primaryKey())
    .addColumn("service", "text", (col) => col.notNull())
    .addColumn("env", "text", (col) => col.notNull())
    .addColumn("release_version", "text", (col) => col.notNull())
    .addColumn("previous_version", "text")
    .addColumn("strategy", "text", (col) => col.notNull())
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("state", "text", (col) => col.notNull())
    .addColumn("reason", "text")
    .addColumn("created_by", "text", (col) => col.notNull())
    .addColumn("created_at", "text", (col) => col.notNull())
    .addColumn("updated_at", "text", (col) => col.notNull())
    .addColumn("finished_at", "text")
    .addColumn("revision", "integer", (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex("rollouts_slot_status_idx")
    .on("rollouts")
    .columns(["service", "env", "status"])
    .execute();
  // Backstop for "at most one progressing or paused rollout per slot": the repository checks first (with
  // a readable error), the database refuses a writer that did not.
  await db.schema
    .createIndex("rollouts_one_blocking_uq")
    .on("rollouts")
    .columns(["service", "env"])
    .unique()
    .where(sql<boolean>`${sql.ref("status")} in ('progressing', 'paused')`)
    .execute();

  await db.schema
    .createTable("verdicts")
    .addColumn("id", "integer", (col) => col.primaryKey())
    .addColumn("rollout_id", "integer", (col) => col.notNull().references("rollouts.id"))
    .addColumn("at", "text", (col) => col.notNull())
    .addColumn("step", "integer")
    .addColumn("phase", "text", (col) => col.notNull())
    .addColumn("result", "text", (col) => col.notNull())
    .addColumn("window_start", "text", (col) => col.notNull())
    .addColumn("window_end", "text", (col) => col.notNull())
    .addColumn("verdict", "text", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("verdicts_rollout_idx").on("verdicts").column("rollout_id").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("verdicts").execute();
  await db.schema.dropTable("rollouts").execute();
  await db.schema.dropTable("slots").execute();
  await db.schema.dropTable("releases").execute();
}
