import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SlipwayError } from "../../util/index.js";
import { bodyHash, deliveryIdentity } from "./index.js";

const BODY = '{"ref":"refs/heads/main"}';
const HASH = createHash("sha256").update(BODY).digest("hex");

function refusal(fn: () => unknown): SlipwayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SlipwayError) return err;
    throw err;
  }
  throw new Error("expected a SlipwayError");
}

describe("deliveryIdentity", () => {
  it("reads each provider's delivery id and hashes the raw body (bytes or text alike)", () => {
    expect(deliveryIdentity("github", { "x-github-delivery": "72d3162e-cc78" }, BODY)).toEqual({
      deliveryId: "72d3162e-cc78",
      bodyHash: HASH,
    });
    expect(deliveryIdentity("gitea", new Headers({ "X-Gitea-Delivery": "g-1" }), Buffer.from(BODY))).toEqual({
      deliveryId: "g-1",
      bodyHash: HASH,
    });
    expect(bodyHash(Buffer.from(BODY))).toBe(HASH);
  });

  it("prefers GitLab's Idempotency-Key (stable across GitLab's retries) to X-Gitlab-Event-UUID", () => {
    const both = { "idempotency-key": "key-1", "x-gitlab-event-uuid": "uuid-1" };
    expect(deliveryIdentity("gitlab", both, BODY).deliveryId).toBe("key-1");
    expect(deliveryIdentity("gitlab", { "x-gitlab-event-uuid": "uuid-1" }, BODY).deliveryId).toBe("uuid-1");
    expect(
      deliveryIdentity("gitlab", { "idempotency-key": " ", "x-gitlab-event-uuid": "u" }, BODY).deliveryId,
    ).toBe("u");
  });

  it("refuses a missing id, naming the header the provider sends", () => {
    expect(refusal(() => deliveryIdentity("github", {}, BODY)).message).toBe(
      "missing X-GitHub-Delivery header: a delivery without its id cannot be told from a replay",
    );
    expect(refusal(() => deliveryIdentity("gitea", { "x-gitea-delivery": "" }, BODY)).message).toContain(
      "missing X-Gitea-Delivery header",
    );
    const gitlab = refusal(() => deliveryIdentity("gitlab", {}, BODY));
    expect(gitlab.code).toBe("invalid_request");
    expect(gitlab.message).toContain("missing X-Gitlab-Event-UUID header (and no Idempotency-Key)");
  });

  it("refuses an id that is not a plain token, without echoing it", () => {
    for (const id of ["a b", "x/y", "<script>", "a".repeat(129), "id, id"]) {
      const err = refusal(() => deliveryIdentity("github", { "x-github-delivery": id }, BODY));
      expect(err.code).toBe("invalid_request");
      expect(err.message).toContain("X-GitHub-Delivery is not a delivery id");
      expect(err.message).not.toContain(id);
    }
    // A repeated header reads as one joined value, and so is refused too.
    expect(refusal(() => deliveryIdentity("github", { "x-github-delivery": ["a", "b"] }, BODY)).code).toBe(
      "invalid_request",
    );
  });
});
