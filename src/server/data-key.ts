/**
 * The control plane's data key (src/secrets): loaded from the key file, or created there at first
 * start. One refusal on purpose: when the file is missing but the store already holds secrets sealed
 * under a key, a new key would make them unreadable for good (the usual cause is a forgotten
 * SLIPWAY_DATA_KEY_FILE on a second control plane sharing a PostgreSQL store), so the start fails with
 * `data_key_unusable` naming the key those secrets need.
 */
import type { Logger } from "pino";
import { openDataKey, sealedKeyId, type DataKey } from "../secrets/index.js";
import type { Store } from "../store/index.js";
import { SlipwayError } from "../util/index.js";

/** The ids of the keys the store's sealed secrets were sealed under. */
async function keysInUse(store: Store): Promise<string[]> {
  const ids = new Set<string>();
  for (const repo of await store.pipelines.listRepositories()) {
    const id = repo.sealedWebhookSecret === null ? undefined : sealedKeyId(repo.sealedWebhookSecret);
    if (id !== undefined) ids.add(id);
  }
  return [...ids].sort();
}

export async function openServerDataKey(store: Store, path: string, logger: Logger): Promise<DataKey> {
  const inUse = await keysInUse(store);
  const onWarning = (message: string) => {
    logger.warn({ path }, message);
  };
  try {
    const { key, created } = await openDataKey(path, { create: inUse.length === 0, onWarning });
    if (created) logger.info({ path, dataKey: key.id }, "created the data key that seals secrets at rest");
    return key;
  } catch (err) {
    const missing =
      err instanceof SlipwayError && (err.details as { reason?: string } | undefined)?.reason === "missing";
    if (!missing) throw err;
    throw new SlipwayError(
      "data_key_unusable",
      `there is no data key file at ${path}, but the store holds secrets sealed under data key ${inUse.join(", ")}`,
      {
        hint:
          "restore that key file (it is not part of the database or its backups), or point SLIPWAY_DATA_KEY_FILE at it; " +
          "a new key cannot open those secrets",
        cause: err,
      },
    );
  }
}
