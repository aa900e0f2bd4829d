/**
 * Sealing values under a data key: AES-256-GCM from `node:crypto`, a random 96-bit nonce per value, and
 * a text format that says how it was sealed and under which key:
 *
 *   slw1:<key id>:<nonce, base64url>:<ciphertext and 128-bit tag, base64url>
 *
 * The associated data is `slw1:<key id>:<context>`, where the context names the place the value is
 * stored (`repositories.webhook_secret:repo_abc`). A sealed value therefore opens only under the key
 * that sealed it AND in the place it was sealed for: a ciphertext copied into another row, or with its
 * header edited, fails authentication instead of decrypting to something plausible.
 *
 * Traps:
 * - Never reuse a nonce under one key; a random 96-bit nonce per value is safe for far more values than
 *   a control plane will ever seal (the birthday bound is about 2^48).
 * - A failure says which of malformed / wrong key / failed authentication it is, and names the context,
 *   but never includes the sealed text or any part of a plaintext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { SlipwayError } from "../util/index.js";

export const SEALED_FORMAT = "slw1";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Why a sealed value cannot be opened; stable, in `details.reason`. */
export type UnreadableReason = "malformed" | "unsupported_format" | "wrong_key" | "failed_authentication";

function requireContext(context: string): void {
  if (typeof context !== "string" || context === "") {
    throw new SlipwayError("invalid_request", "a sealing context must be a non-empty string");
  }
}

function associatedData(keyId: string, context: string): Buffer {
  return Buffer.from(`${SEALED_FORMAT}:${keyId}:${context}`, "utf8");
}

export function unreadable(
  context: string,
  reason: UnreadableReason,
  why: string,
  keyId?: string,
): SlipwayError {
  const hint =
    reason === "wrong_key"
      ? "start the control plane with the data key file that sealed it (SLIPWAY_DATA_KEY_FILE), or set the secret again"
      : "the stored value was altered or damaged: set the secret again";
  return new SlipwayError("secret_unreadable", `cannot decrypt ${context}: ${why}`, {
    hint,
    details: { context, reason, ...(keyId === undefined ? {} : { sealedUnder: keyId }) },
  });
}

/** Seals `plaintext` (UTF-8) under a 32-byte key for `context`. */
export function sealWith(key: Buffer, keyId: string, plaintext: string, context: string): string {
  requireContext(context);
  if (key.length !== KEY_BYTES) throw new Error("a data key is 32 bytes");
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(keyId, context));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_FORMAT}:${keyId}:${nonce.toString("base64url")}:${body.toString("base64url")}`;
}

interface ParsedSealed {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parseSealed(sealed: unknown, context: string): ParsedSealed {
  if (typeof sealed !== "string") throw unreadable(context, "malformed", "it is not a sealed value");
  const parts = sealed.split(":");
  if (parts[0] !== SEALED_FORMAT) {
    const looksSealed = parts.length === 4 && /^slw\d+$/.test(parts[0] ?? "");
    throw looksSealed
      ? unreadable(
          context,
          "unsupported_format",
          `it was sealed in format ${parts[0]}, unknown to this Slipway`,
        )
      : unreadable(context, "malformed", "it is not a sealed value (truncated or altered)");
  }
  const [, keyId = "", nonceText = "", bodyText = ""] = parts;
  const valid =
    parts.length === 4 &&
    keyId !== "" &&
    BASE64URL.test(nonceText) &&
    BASE64URL.test(bodyText) &&
    Buffer.from(nonceText, "base64url").length === NONCE_BYTES &&
    Buffer.from(bodyText, "base64url").length >= TAG_BYTES;
  if (!valid) throw unreadable(context, "malformed", "it is not a sealed value (truncated or altered)");
  const body = Buffer.from(bodyText, "base64url");
  return {
    keyId,
    nonce: Buffer.from(nonceText, "base64url"),
    ciphertext: body.subarray(0, body.length - TAG_BYTES),
    tag: body.subarray(body.length - TAG_BYTES),
  };
}

/** The id of the key a value was sealed under, without opening it; undefined when it is not sealed. */
export function sealedKeyId(sealed: string): string | undefined {
  try {
    return parseSealed(sealed, "a sealed value").keyId;
  } catch {
    return undefined;
  }
}

/** Opens a value sealed by {@link sealWith} for the same context under the same key. */
export function openWith(key: Buffer, keyId: string, sealed: string, context: string): string {
  requireContext(context);
  const parsed = parseSealed(sealed, context);
  if (parsed.keyId !== keyId) {
    throw unreadable(
      context,
      "wrong_key",
      `it was sealed under data key ${parsed.keyId}, but the loaded key is ${keyId}`,
      parsed.keyId,
    );
  }
  const decipher = createDecipheriv("aes-256-gcm", key, parsed.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(keyId, context));
  decipher.setAuthTag(parsed.tag);
  try {
    return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]).toString("utf8");
  } catch {
    throw unreadable(
      context,
      "failed_authentication",
      "it fails authentication (altered, or sealed for another place)",
      parsed.keyId,
    );
  }
}
