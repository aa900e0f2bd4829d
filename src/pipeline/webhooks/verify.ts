/**
 * Is a delivery really from the provider? Each provider proves it differently:
 *
 * - GitHub: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed with the
 *   webhook secret. The legacy SHA-1 `X-Hub-Signature` is not accepted.
 * - Gitea (and Forgejo): `X-Gitea-Signature: <hex>`, the same HMAC without the prefix.
 * - GitLab: `X-Gitlab-Token: <secret>`, the secret itself — no signature, so TLS is what keeps it
 *   secret in transit.
 *
 * Traps:
 * - The HMAC is over the bytes as received. A body parsed and re-serialised (key order, spacing,
 *   `\u` escapes) no longer verifies: pass the raw body.
 * - Comparisons take the same time wherever the values differ (`timingSafeEqual`), so a caller cannot
 *   learn a valid signature byte by byte. The token is hashed first so that its length leaks nothing.
 * - An empty secret is refused: anyone can compute an HMAC with an empty key.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { header } from "./headers.js";
import type { VerifyResult, WebhookHeaders, WebhookProvider } from "./types.js";

export type RawBody = string | Uint8Array;

const OK: VerifyResult = { ok: true };

const NO_SECRET: VerifyResult = {
  ok: false,
  reason: "no_secret",
  message: "no webhook secret is configured, so no delivery can be verified",
};

/**
 * Checks GitHub's `X-Hub-Signature-256`.
 *
 * @example
 *   verifyGitHub(request.headers, request.rawBody, secret); // { ok: true } or { ok: false, reason, message }
 */
export function verifyGitHub(headers: WebhookHeaders, rawBody: RawBody, secret: string): VerifyResult {
  if (secret === "") return NO_SECRET;
  const name = "X-Hub-Signature-256";
  const value = header(headers, name);
  if (value === undefined) {
    const legacy =
      header(headers, "X-Hub-Signature") === undefined
        ? ""
        : " (only the SHA-1 X-Hub-Signature, which is not accepted)";
    return { ok: false, reason: "missing_signature", message: `missing ${name} header${legacy}` };
  }
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(value.trim());
  if (!match?.[1]) return malformed(name, "sha256=<64 hex digits>");
  return compareHmac(name, match[1], rawBody, secret);
}

/**
 * Checks Gitea's `X-Gitea-Signature` (hex HMAC-SHA256 of the raw body, no prefix).
 *
 * @example
 *   verifyGitea(request.headers, request.rawBody, secret);
 */
export function verifyGitea(headers: WebhookHeaders, rawBody: RawBody, secret: string): VerifyResult {
  if (secret === "") return NO_SECRET;
  const name = "X-Gitea-Signature";
  const value = header(headers, name);
  if (value === undefined)
    return { ok: false, reason: "missing_signature", message: `missing ${name} header` };
  const hex = value.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return malformed(name, "64 hex digits");
  return compareHmac(name, hex, rawBody, secret);
}

/**
 * Checks GitLab's `X-Gitlab-Token`, which carries the secret itself.
 *
 * @example
 *   verifyGitLab(request.headers, secret);
 */
export function verifyGitLab(headers: WebhookHeaders, secret: string): VerifyResult {
  if (secret === "") return NO_SECRET;
  const name = "X-Gitlab-Token";
  const value = header(headers, name);
  if (value === undefined)
    return { ok: false, reason: "missing_signature", message: `missing ${name} header` };
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  if (timingSafeEqual(digest(value), digest(secret))) return OK;
  return { ok: false, reason: "signature_mismatch", message: `${name} does not match the webhook secret` };
}

/** The provider's check, for callers that hold the provider as data. */
export function verifyWebhook(
  provider: WebhookProvider,
  headers: WebhookHeaders,
  rawBody: RawBody,
  secret: string,
): VerifyResult {
  switch (provider) {
    case "github":
      return verifyGitHub(headers, rawBody, secret);
    case "gitea":
      return verifyGitea(headers, rawBody, secret);
    case "gitlab":
      return verifyGitLab(headers, secret);
  }
}

function compareHmac(name: string, hex: string, rawBody: RawBody, secret: string): VerifyResult {
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  const given = Buffer.from(hex, "hex");
  if (given.length === expected.length && timingSafeEqual(given, expected)) return OK;
  return {
    ok: false,
    reason: "signature_mismatch",
    message: `${name} does not match the body signed with the webhook secret`,
  };
}

function malformed(name: string, expected: string): VerifyResult {
  return { ok: false, reason: "malformed_signature", message: `${name} is not ${expected}` };
}
