/**
 * The webhook deliveries Slipway has seen, so a replayed delivery starts nothing. One is a replay when
 * its provider and id were seen, or (when it was signed) the same body reached the same repository
 * before. A delivery is recorded in the transaction of the first run it starts (`claimDelivery`, called
 * by `createRun`), or on its own when it started none; so a delivery whose runs could not be created is
 * not recorded, and its redelivery is not a replay.
 */
import type { Selectable, Transaction } from "kysely";

import { SlipwayError } from "../util/index.js";
import { readQuery, type RepositoryContext } from "./context.js";
import { invalid, isPlainObject, requireHash, requireName, write } from "./repository-support.js";
import type { StoreDatabase, WebhookDeliveriesTable } from "./schema.js";
import type { DeliveryClaim, DeliveryKey, SeenDelivery } from "./types.js";

type Trx = Transaction<StoreDatabase>;

/** Checks a delivery key (and claim, when `withClaim`); keeps only the contract's fields. */
export function validateDeliveryKey(value: unknown, what: string): DeliveryKey;
export function validateDeliveryKey(value: unknown, what: string, withClaim: true): DeliveryClaim;
export function validateDeliveryKey(value: unknown, what: string, withClaim = false): DeliveryKey {
  if (!isPlainObject(value)) throw invalid(`${what} must be { provider, deliveryId, repository, bodyHash }`);
  const key: DeliveryKey = {
    provider: requireName(value.provider, `${what}.provider`),
    deliveryId: requireName(value.deliveryId, `${what}.deliveryId`),
    repository: requireName(value.repository, `${what}.repository`),
    bodyHash: value.bodyHash === null ? null : requireHash(value.bodyHash, `${what}.bodyHash`),
  };
  if (!withClaim) return key;
  const claim: DeliveryClaim = { ...key, claim: requireName(value.claim, `${what}.claim`) };
  return claim;
}

function toSeen(row: Selectable<WebhookDeliveriesTable>, match: SeenDelivery["match"]): SeenDelivery {
  return {
    provider: row.provider,
    deliveryId: row.delivery_id,
    receivedAt: row.received_at,
    match,
    claim: row.claim,
  };
}

async function seenIn(db: Pick<Trx, "selectFrom">, key: DeliveryKey): Promise<SeenDelivery | undefined> {
  const byId = await db
    .selectFrom("webhook_deliveries")
    .selectAll()
    .where("provider", "=", key.provider)
    .where("delivery_id", "=", key.deliveryId)
    .executeTakeFirst();
  if (byId !== undefined) return toSeen(byId, "delivery_id");
  if (key.bodyHash === null) return undefined;
  const byBody = await db
    .selectFrom("webhook_deliveries")
    .selectAll()
    .where("repository", "=", key.repository)
    .where("body_hash", "=", key.bodyHash)
    .executeTakeFirst();
  return byBody === undefined ? undefined : toSeen(byBody, "body");
}

/** The 409 for a replay: which delivery it repeats, and how. */
export function deliveryReplayed(key: DeliveryKey, seen: SeenDelivery): SlipwayError {
  const message =
    seen.match === "delivery_id"
      ? `delivery ${key.deliveryId} was processed already`
      : `this body reached repository ${key.repository} already, as ${seen.provider} delivery ${seen.deliveryId}; ` +
        `a new delivery id does not make it a new push`;
  return new SlipwayError("webhook_replayed", message, {
    hint: "a redelivery of a processed push starts nothing; push again or start the run by hand",
    details: {
      provider: seen.provider,
      deliveryId: seen.deliveryId,
      receivedAt: seen.receivedAt,
      match: seen.match,
    },
  });
}

/**
 * Inside a write transaction: records the delivery for this claim, or finds it recorded by the same
 * claim (an earlier run of the same attempt). Returns what it repeats when another attempt recorded it.
 */
export async function claimDelivery(
  trx: Trx,
  at: string,
  claim: DeliveryClaim,
): Promise<SeenDelivery | undefined> {
  // Look first rather than insert and catch the key violation: on PostgreSQL a failed statement aborts
  // the whole transaction. Writes are serialized, so nobody can insert the same key in between.
  const seen = await seenIn(trx, claim);
  if (seen !== undefined) return seen.claim === claim.claim ? undefined : seen;
  await trx
    .insertInto("webhook_deliveries")
    .values({
      provider: claim.provider,
      delivery_id: claim.deliveryId,
      repository: claim.repository,
      received_at: at,
      body_hash: claim.bodyHash,
      claim: claim.claim,
    })
    .execute();
  return undefined;
}

export async function findDelivery(
  ctx: RepositoryContext,
  raw: DeliveryKey,
): Promise<SeenDelivery | undefined> {
  const key = validateDeliveryKey(raw, "delivery");
  return readQuery(ctx, () => seenIn(ctx.db, key));
}

export async function recordDelivery(ctx: RepositoryContext, raw: DeliveryClaim): Promise<boolean> {
  const claim = validateDeliveryKey(raw, "delivery", true);
  return write(ctx, `recording webhook delivery ${claim.deliveryId}`, async ({ trx, at }) => {
    return (await claimDelivery(trx, at, claim)) === undefined;
  });
}
