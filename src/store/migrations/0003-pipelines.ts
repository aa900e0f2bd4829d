import type { Kysely } from "kysely";

/**
 * Pipelines: runs (numbered per pipeline; their jobs and steps live in the `state` JSON the runner
 * owns), the repositories Slipway watches, and the webhook deliveries it has seen (replay protection).
 * Same portable subset as 0001/0002: text (ISO timestamps, JSON), integer. Run ids and numbers are
 * assigned as max + 1 inside the (serialized) write transaction; `(pipeline, number)` is unique as a
 * backstop. Repository ids are random text (`repo_…`), like token ids.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("pipeline_runs")
    .addColumn("id", "integer", (col) => col.primaryKey())
    .addColumn("pipeline", "text", (col) => col.notNull())
    .addColumn("number", "integer", (col) => col.notNull())
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("trigger", "text", (col) => col.notNull())
    .addColumn("spec", "text", (col) => col.notNull())
    .addColumn("config_revision", "integer", (col) => col.notNull())
    .addColumn("concurrency_group", "text")
    .addColumn("state", "text", (col) => col.notNull())
    .addColumn("created_at", "text", (col) => col.notNull())
    .addColumn("started_at", "text")
    .addColumn("finished_at", "text")
    .addColumn("revision", "integer", (col) => col.notNull())
    .addUniqueConstraint("pipeline_runs_pipeline_number_uq", ["pipeline", "number"])
    .execute();
  await db.schema.createIndex("pipeline_runs_status_idx").on("pipeline_runs").column("status").execute();
  await db.schema
    .createIndex("pipeline_runs_concurrency_group_idx")
    .on("pipeline_runs")
    .column("concurrency_group")
    .execute();

  await db.schema
    .createTable("repositories")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("name", "text", (col) => col.notNull().unique())
    .addColumn("location", "text", (col) => col.notNull().unique())
    .addColumn("kind", "text", (col) => col.notNull())
    .addColumn("webhook_secret", "text", (col) => col.notNull())
    .addColumn("created_by", "text", (col) => col.notNull())
    .addColumn("created_at", "text", (col) => col.notNull())
    .addColumn("heads", "text", (col) => col.notNull())
    .execute();

  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("provider", "text", (col) => col.notNull())
    .addColumn("delivery_id", "text", (col) => col.notNull())
    .addColumn("repository", "text", (col) => col.notNull())
    .addColumn("received_at", "text", (col) => col.notNull())
    .addPrimaryKeyConstraint("webhook_deliveries_pk", ["provider", "delivery_id"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("webhook_deliveries").execute();
  await db.schema.dropTable("repositories").execute();
  await db.schema.dropTable("pipeline_runs").execute();
}
