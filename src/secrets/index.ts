/**
 * Secrets at rest: the public face of `src/secrets`. Every secret Slipway stores is sealed under one
 * data key kept in a file outside the database (see data-key.ts for the file, sealed.ts for the
 * format). Other domains import only this file.
 *
 *   const { key } = await openDataKey("/var/lib/slipway/keys/data.key", { create: true });
 *   const sealed = key.seal(secret, `repositories.webhook_secret:${id}`); // store this
 *   const secret = key.open(sealed, `repositories.webhook_secret:${id}`); // or secret_unreadable
 *
 * The context names where a value is stored (`<table>.<column>:<row id>`); a value opens only in the
 * place it was sealed for. Failures are SlipwayErrors: `data_key_unusable` for the key file,
 * `secret_unreadable` (naming the context) for a value that is malformed, sealed under another key, or
 * altered. Plaintexts are UTF-8 text.
 */
export {
  createDataKey,
  dataKeyFromBytes,
  dataKeyId,
  generateDataKey,
  loadDataKey,
  openDataKey,
  type DataKey,
  type LoadDataKeyOptions,
} from "./data-key.js";
export { SEALED_FORMAT, sealedKeyId, type UnreadableReason } from "./sealed.js";

/** Where the data key lives when nothing says otherwise: `<dataDir>/keys/data.key`. */
export const DEFAULT_DATA_KEY_PATH = ["keys", "data.key"] as const;
