/**
 * Push webhooks' public face: verify a delivery, read it into a PushEvent, and decide whether it
 * starts a pipeline. Pure functions of headers and body; the HTTP route, the secret store and the
 * run queue are the caller's.
 *
 *   const check = verifyWebhook(provider, req.headers, req.rawBody, secret);
 *   if (!check.ok) return reply.code(401).send(check.message);
 *   const event = parsePush(provider, req.headers, req.rawBody);
 *   if (event.kind === "push" && matchesPush(pipeline.on.push, event)) startRun(event);
 *
 * Rules (details at the top of each file):
 * - verify.ts — GitHub `X-Hub-Signature-256` and Gitea `X-Gitea-Signature` are HMAC-SHA256 of the raw
 *   body; GitLab's `X-Gitlab-Token` is the secret itself. Constant-time comparisons; an empty secret
 *   verifies nothing. Failures are data (`{ ok: false, reason, message }`), not exceptions.
 * - github.ts, gitlab.ts, gitea.ts — one file per provider's payload, validated with loose zod
 *   objects (providers add fields). A malformed push is a SlipwayError("invalid_request") naming the
 *   field; a ping or any other event is `{ kind: "ignored", reason }`.
 * - delivery.ts — what makes a delivery a replay: its id (a header no signature covers) or the
 *   SHA-256 of its body per repository; a delivery without an id is refused.
 * - filter.ts — GitHub Actions' `on.push` semantics for `branches`, `tags` and `paths`, with `!`
 *   exclusions; glob.ts — `*`, `**`, `?`, `[…]`.
 */
export { bodyHash, DELIVERY_ID_HEADERS, deliveryIdentity, type DeliveryIdentity } from "./delivery.js";
export { createPatternList, explainPushMatch, matchesPush } from "./filter.js";
export { compileGlob, matchesGlob } from "./glob.js";
export { parsePush } from "./parse.js";
export {
  VERIFY_FAILURES,
  WEBHOOK_PROVIDERS,
  type IgnoredEvent,
  type PushCommit,
  type PushEvent,
  type PushFilter,
  type PushMatch,
  type VerifyFailure,
  type VerifyResult,
  type WebhookEvent,
  type WebhookHeaders,
  type WebhookProvider,
} from "./types.js";
export { verifyGitea, verifyGitHub, verifyGitLab, verifyWebhook, type RawBody } from "./verify.js";
