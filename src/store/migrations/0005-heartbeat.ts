import type { Kysely } from "kysely";

/**
 * `store_heartbeat`: one row (id 1) that `/readyz` writes to prove the store takes a committed write.
 * A write that is rolled back proves nothing: SQLite in WAL mode writes a transaction's pages only when
 * it commits, so a rolled-back write succeeds on a full disk. Nothing reads the row but people.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("store_heartbeat")
    .addColumn("id", "integer", (col) => col.primaryKey())
    .addColumn("beat_at", "text", (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("store_heartbeat").execute();
}
