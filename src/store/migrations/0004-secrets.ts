import type { Kysely } from "kysely";

/**
 * Secrets at rest and replay protection on what a signature covers.
 *
 * - `repositories.webhook_secret_sealed`: the webhook secret sealed under the data key (src/secrets;
 *   context `repositories.webhook_secret:<id>`). The key lives outside the database, so the migration
 *   cannot seal: rows written before this one keep their clear secret in `webhook_secret` until the
 *   control plane's next start seals them in one transaction and empties that column (see
 *   `sealClearWebhookSecrets`). New rows write `webhook_secret` as "".
 * - `repositories.hook_token_hash`: SHA-256 of the local git hook's own token (it may only report pushes
 *   of its repository); null for a repository without hooks. The hook never holds the webhook secret.
 * - `webhook_deliveries.body_hash`: SHA-256 of a signed body, unique per repository, so the same signed
 *   body under a new delivery id is a replay. Null for local and polled pushes (nothing is signed).
 * - `webhook_deliveries.claim`: the attempt that recorded the delivery; the runs that attempt starts
 *   share it, a replay's claim differs (see `createRun`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("repositories").addColumn("webhook_secret_sealed", "text").execute();
  await db.schema.alterTable("repositories").addColumn("hook_token_hash", "text").execute();
  await db.schema.alterTable("webhook_deliveries").addColumn("body_hash", "text").execute();
  await db.schema.alterTable("webhook_deliveries").addColumn("claim", "text").execute();
  // Unique: a backstop for the check made inside the write transaction. Nulls do not collide.
  await db.schema
    .createIndex("webhook_deliveries_body_uq")
    .on("webhook_deliveries")
    .columns(["repository", "body_hash"])
    .unique()
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("webhook_deliveries_body_uq").execute();
  await db.schema.alterTable("webhook_deliveries").dropColumn("claim").execute();
  await db.schema.alterTable("webhook_deliveries").dropColumn("body_hash").execute();
  await db.schema.alterTable("repositories").dropColumn("hook_token_hash").execute();
  await db.schema.alterTable("repositories").dropColumn("webhook_secret_sealed").execute();
}
