/**
 * What makes a delivery a replay. The delivery headers are NOT covered by any signature (an attacker
 * who captured one signed delivery can send it again under a new or no id), so a delivery is keyed by
 * two things, and a match on either is a replay:
 *
 * - its id, per provider: GitHub `X-GitHub-Delivery`, Gitea `X-Gitea-Delivery`, GitLab
 *   `Idempotency-Key` (GitLab 17.4+, the same across GitLab's own retries) or else
 *   `X-Gitlab-Event-UUID`. A delivery without one is refused: every supported version sends it.
 * - the SHA-256 of its raw body, per repository: what the HMAC covers (GitHub, Gitea). GitLab signs
 *   nothing, it sends the shared token, so for GitLab the body hash is the only key an attacker cannot
 *   change without the token; a replayed GitLab body is refused whatever its headers say.
 *
 * A consequence, by design: a push whose body is byte for byte one seen before is a replay. Providers
 * put ids and times in every push body, so two real pushes never share one.
 */
import { createHash } from "node:crypto";
import { SlipwayError } from "../../util/index.js";
import { header } from "./headers.js";
import type { WebhookHeaders, WebhookProvider } from "./types.js";
import type { RawBody } from "./verify.js";

/** The headers that carry a delivery id, in the order they are read. */
export const DELIVERY_ID_HEADERS: Readonly<Record<WebhookProvider, readonly string[]>> = {
  github: ["X-GitHub-Delivery"],
  gitea: ["X-Gitea-Delivery"],
  gitlab: ["Idempotency-Key", "X-Gitlab-Event-UUID"],
};

/** UUIDs in practice; anything else printable and short, so that the id is safe to store and show. */
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface DeliveryIdentity {
  deliveryId: string;
  /** SHA-256 of the raw body, lowercase hex. */
  bodyHash: string;
}

export function bodyHash(rawBody: RawBody): string {
  return createHash("sha256").update(rawBody).digest("hex");
}

/**
 * The delivery id and body hash of a verified delivery.
 *
 * @throws SlipwayError("invalid_request") naming the header, when it is missing or not a plain id.
 * @example
 *   deliveryIdentity("github", request.headers, raw); // { deliveryId: "72d3162e-…", bodyHash: "9f86…" }
 */
export function deliveryIdentity(
  provider: WebhookProvider,
  headers: WebhookHeaders,
  rawBody: RawBody,
): DeliveryIdentity {
  const names = DELIVERY_ID_HEADERS[provider];
  for (const name of names) {
    const value = header(headers, name)?.trim();
    if (value === undefined || value === "") continue;
    if (!DELIVERY_ID.test(value)) {
      throw new SlipwayError(
        "invalid_request",
        `${name} is not a delivery id (expected up to 128 letters, digits, ".", "_", ":" or "-")`,
      );
    }
    return { deliveryId: value, bodyHash: bodyHash(rawBody) };
  }
  const [first, ...others] = [...names].reverse();
  throw new SlipwayError(
    "invalid_request",
    `missing ${first ?? "delivery id"} header${others.length === 0 ? "" : ` (and no ${others.join(" or ")})`}: ` +
      "a delivery without its id cannot be told from a replay",
    { hint: "deliveries from the provider carry it; a hand-made request must set it" },
  );
}
