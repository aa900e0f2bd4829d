/**
 * The data key: 32 random bytes that seal secrets at rest, kept in a file OUTSIDE the database, so a
 * copy of the database (a backup, a dump, a stolen disk image of PostgreSQL) holds only ciphertext.
 *
 * The file holds the key in base64 (44 characters, a newline allowed), so `openssl rand -base64 32`
 * makes one too. It is created with mode 0600 in a 0700 directory. A key file that group or others may
 * read or write is tightened to 0600 with a warning (they may have read it already: the warning says
 * so); when that is impossible (a read-only mount, another owner) it is refused. A file that is not a
 * regular file, or does not hold exactly 32 bytes of base64, is refused without echoing its content.
 *
 * The key id (`k` + 16 hex digits of SHA-256 over a label and the key) names the key in every sealed
 * value; it reveals nothing usable about a 256-bit random key.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chmod, link, mkdir, open, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { inspect } from "node:util";
import { SlipwayError } from "../util/index.js";
import { openWith, sealWith } from "./sealed.js";

const KEY_BYTES = 32;
/** Larger than any key file, small enough that a wrong path (a log, a device) is not read whole. */
const MAX_KEY_FILE_BYTES = 4096;

/**
 * A loaded data key. The key bytes stay inside: JSON and `util.inspect` show only the id.
 *
 * @example
 *   const key = await loadDataKey("/var/lib/slipway/keys/data.key");
 *   const sealed = key.seal("s3cret", "repositories.webhook_secret:repo_abc");
 *   key.open(sealed, "repositories.webhook_secret:repo_abc"); // "s3cret"
 */
export interface DataKey {
  /** `k` + 16 hex digits: a hash prefix of the key, written into every value it seals. */
  readonly id: string;
  /** Seals UTF-8 text for a context (where the value is stored); a fresh random nonce every time. */
  seal(plaintext: string, context: string): string;
  /**
   * Opens a value sealed under this key for the same context.
   *
   * @throws SlipwayError("secret_unreadable") naming the context, with `details.reason` one of
   *   `malformed`, `unsupported_format`, `wrong_key`, `failed_authentication`.
   */
  open(sealed: string, context: string): string;
}

export interface LoadDataKeyOptions {
  /** Told when the file's mode was tightened. Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** The key id of raw key bytes. */
export function dataKeyId(bytes: Uint8Array): string {
  const digest = createHash("sha256").update("slipway data key id\0").update(bytes).digest("hex");
  return `k${digest.slice(0, 16)}`;
}

/** A DataKey over 32 bytes (a copy is kept). */
export function dataKeyFromBytes(bytes: Uint8Array): DataKey {
  if (bytes.length !== KEY_BYTES) {
    throw new SlipwayError("data_key_unusable", `a data key is ${KEY_BYTES} bytes, not ${bytes.length}`);
  }
  const key = Buffer.from(bytes);
  const id = dataKeyId(key);
  return Object.freeze({
    id,
    seal: (plaintext: string, context: string) => sealWith(key, id, plaintext, context),
    open: (sealed: string, context: string) => openWith(key, id, sealed, context),
    toJSON: () => ({ id }),
    [inspect.custom]: () => `DataKey(${id})`,
  });
}

/** A new random key in memory only (tests, throwaway stores). */
export function generateDataKey(): DataKey {
  return dataKeyFromBytes(randomBytes(KEY_BYTES));
}

function unusable(path: string, why: string, hint?: string, cause?: unknown): SlipwayError {
  return new SlipwayError("data_key_unusable", `the data key file ${path} ${why}`, {
    hint: hint ?? "point SLIPWAY_DATA_KEY_FILE at the key file, or restore it from where keys are kept",
    ...(cause === undefined ? {} : { cause }),
  });
}

function parseKeyText(path: string, text: string): Buffer {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, "base64");
  // Buffer.from ignores characters outside the alphabet: check the text itself too.
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed) || bytes.length !== KEY_BYTES) {
    throw unusable(
      path,
      `is not a data key: expected ${KEY_BYTES} random bytes in base64 (44 characters)`,
      "create one with `openssl rand -base64 32`, or remove the file so that the control plane creates one",
    );
  }
  return bytes;
}

/**
 * Reads the key file, tightening a looser mode to 0600 (with a warning) first.
 *
 * @throws SlipwayError("data_key_unusable"): missing (`details.reason: "missing"`), not a regular file,
 *   too open and not tightenable, unreadable, or not a key.
 */
export async function loadDataKey(path: string, options: LoadDataKeyOptions = {}): Promise<DataKey> {
  const warn =
    options.onWarning ??
    ((message: string) => {
      process.emitWarning(message, "SlipwayDataKey");
    });
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SlipwayError("data_key_unusable", `there is no data key file at ${path}`, {
        details: { reason: "missing", path },
      });
    }
    throw unusable(path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? "error"}`, undefined, err);
  }
  if (!info.isFile()) throw unusable(path, "is not a regular file");
  if (info.size > MAX_KEY_FILE_BYTES) throw unusable(path, "is too large to be a data key");
  const loose = info.mode & 0o077;
  if (loose !== 0) {
    try {
      await chmod(path, 0o600);
    } catch (err) {
      throw unusable(
        path,
        `has mode ${(info.mode & 0o777).toString(8)}: group or others may read it, and it cannot be tightened`,
        "make it readable by the control plane's user only (chmod 600, or a secret volume with defaultMode 0400)",
        err,
      );
    }
    warn(
      `the data key file ${path} had mode ${(info.mode & 0o777).toString(8)} (open to group or others); ` +
        "tightened to 600. If others could read it, treat the secrets it seals as exposed and set them again",
    );
  }
  let text: string;
  try {
    const handle = await open(path, constants.O_RDONLY);
    try {
      const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, MAX_KEY_FILE_BYTES, 0);
      text = buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw unusable(path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? "error"}`, undefined, err);
  }
  return dataKeyFromBytes(parseKeyText(path, text));
}

/**
 * Creates a new key file (mode 0600, its directory 0700) and returns its key. The file appears whole or
 * not at all (written beside it, then hard-linked into place), so two processes racing to create it
 * agree on one key: the loser gets `EEXIST` and should load the winner's.
 */
export async function createDataKey(path: string): Promise<DataKey> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const bytes = randomBytes(KEY_BYTES);
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(`${bytes.toString("base64")}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return dataKeyFromBytes(bytes);
}

/** Loads the key file, or creates it when it is missing and `create` allows. */
export async function openDataKey(
  path: string,
  options: LoadDataKeyOptions & { create: boolean },
): Promise<{ key: DataKey; created: boolean }> {
  try {
    return { key: await loadDataKey(path, options), created: false };
  } catch (err) {
    const missing =
      err instanceof SlipwayError && (err.details as { reason?: string } | undefined)?.reason === "missing";
    if (!missing || !options.create) throw err;
  }
  try {
    return { key: await createDataKey(path), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      return { key: await loadDataKey(path, options), created: false };
    }
    throw unusable(
      path,
      `cannot be created: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      "choose a writable data directory, or point SLIPWAY_DATA_KEY_FILE at an existing key file",
      err,
    );
  }
}
