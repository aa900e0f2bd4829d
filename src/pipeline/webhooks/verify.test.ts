import { createHmac } from "node:crypto";
import { describe, expect, test } from "vitest";
import { verifyGitea, verifyGitHub, verifyGitLab, verifyWebhook } from "./verify.js";

const SECRET = "It's a Secret to Everybody";
const BODY = '{"zen":"Design for failure.","hook_id":1}';

function hmac(body: string | Uint8Array, secret = SECRET): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

describe("verifyGitHub", () => {
  test("accepts the example from GitHub's documentation", () => {
    // docs.github.com "Validating webhook deliveries": this secret and payload give this signature.
    const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    expect(verifyGitHub({ "x-hub-signature-256": signature }, "Hello, World!", SECRET)).toEqual({ ok: true });
  });

  test("accepts a valid signature over a string or bytes, in any header shape and hex case", () => {
    const signature = `sha256=${hmac(BODY)}`;
    expect(verifyGitHub({ "x-hub-signature-256": signature }, BODY, SECRET)).toEqual({ ok: true });
    expect(verifyGitHub({ "X-Hub-Signature-256": signature }, Buffer.from(BODY), SECRET)).toEqual({
      ok: true,
    });
    expect(
      verifyGitHub(
        new Headers({ "X-Hub-Signature-256": signature.toUpperCase().replace("SHA256", "sha256") }),
        new TextEncoder().encode(BODY),
        SECRET,
      ),
    ).toEqual({ ok: true });
    expect(verifyGitHub({ "x-hub-signature-256": [signature] }, BODY, SECRET)).toEqual({ ok: true });
  });

  test("refuses a signature made with another secret, or a body changed in any way", () => {
    const mismatch = {
      ok: false,
      reason: "signature_mismatch",
      message: "X-Hub-Signature-256 does not match the body signed with the webhook secret",
    };
    const signature = `sha256=${hmac(BODY)}`;
    expect(verifyGitHub({ "x-hub-signature-256": `sha256=${hmac(BODY, "other")}` }, BODY, SECRET)).toEqual(
      mismatch,
    );
    expect(verifyGitHub({ "x-hub-signature-256": signature }, BODY.replace("1", "2"), SECRET)).toEqual(
      mismatch,
    );
    const reserialised = JSON.stringify(JSON.parse(BODY), null, 2);
    expect(verifyGitHub({ "x-hub-signature-256": signature }, reserialised, SECRET)).toEqual(mismatch);
  });

  test("refuses a missing header, and says when only the SHA-1 signature came", () => {
    expect(verifyGitHub({}, BODY, SECRET)).toEqual({
      ok: false,
      reason: "missing_signature",
      message: "missing X-Hub-Signature-256 header",
    });
    const sha1 = createHmac("sha1", SECRET).update(BODY).digest("hex");
    expect(verifyGitHub({ "x-hub-signature": `sha1=${sha1}` }, BODY, SECRET)).toMatchObject({
      reason: "missing_signature",
      message: "missing X-Hub-Signature-256 header (only the SHA-1 X-Hub-Signature, which is not accepted)",
    });
  });

  test.each([
    [hmac(BODY)],
    [`sha1=${hmac(BODY)}`],
    [`sha256=${hmac(BODY).slice(2)}`],
    [`sha256=${hmac(BODY)}00`],
    [`sha256=${"z".repeat(64)}`],
    [""],
  ])("refuses the malformed signature %j", (value) => {
    expect(verifyGitHub({ "x-hub-signature-256": value }, BODY, SECRET)).toEqual({
      ok: false,
      reason: "malformed_signature",
      message: "X-Hub-Signature-256 is not sha256=<64 hex digits>",
    });
  });

  test("refuses a repeated signature header rather than trusting either copy", () => {
    const signature = `sha256=${hmac(BODY)}`;
    expect(verifyGitHub({ "x-hub-signature-256": [signature, signature] }, BODY, SECRET)).toMatchObject({
      reason: "malformed_signature",
    });
  });

  test("verifies nothing with an empty secret", () => {
    expect(verifyGitHub({ "x-hub-signature-256": `sha256=${hmac(BODY, "")}` }, BODY, "")).toMatchObject({
      ok: false,
      reason: "no_secret",
    });
  });
});

describe("verifyGitea", () => {
  test("accepts the hex HMAC without a prefix", () => {
    expect(verifyGitea({ "x-gitea-signature": hmac(BODY) }, BODY, SECRET)).toEqual({ ok: true });
  });

  test("refuses a mismatch, a missing header, a prefixed value and an empty secret", () => {
    expect(verifyGitea({ "x-gitea-signature": hmac(BODY, "other") }, BODY, SECRET)).toMatchObject({
      reason: "signature_mismatch",
      message: "X-Gitea-Signature does not match the body signed with the webhook secret",
    });
    expect(verifyGitea({ "x-hub-signature-256": `sha256=${hmac(BODY)}` }, BODY, SECRET)).toEqual({
      ok: false,
      reason: "missing_signature",
      message: "missing X-Gitea-Signature header",
    });
    expect(verifyGitea({ "x-gitea-signature": `sha256=${hmac(BODY)}` }, BODY, SECRET)).toEqual({
      ok: false,
      reason: "malformed_signature",
      message: "X-Gitea-Signature is not 64 hex digits",
    });
    expect(verifyGitea({ "x-gitea-signature": hmac(BODY) }, BODY, "")).toMatchObject({ reason: "no_secret" });
  });
});

describe("verifyGitLab", () => {
  test("accepts the token equal to the secret", () => {
    expect(verifyGitLab({ "x-gitlab-token": SECRET }, SECRET)).toEqual({ ok: true });
    expect(verifyGitLab(new Headers({ "X-Gitlab-Token": SECRET }), SECRET)).toEqual({ ok: true });
  });

  test.each([["wrong"], [`${SECRET} `], [SECRET.slice(0, -1)], [""]])("refuses the token %j", (token) => {
    expect(verifyGitLab({ "x-gitlab-token": token }, SECRET)).toEqual({
      ok: false,
      reason: "signature_mismatch",
      message: "X-Gitlab-Token does not match the webhook secret",
    });
  });

  test("refuses a missing header and an empty secret", () => {
    expect(verifyGitLab({}, SECRET)).toEqual({
      ok: false,
      reason: "missing_signature",
      message: "missing X-Gitlab-Token header",
    });
    expect(verifyGitLab({ "x-gitlab-token": "" }, "")).toMatchObject({ reason: "no_secret" });
  });
});

describe("verifyWebhook", () => {
  test("dispatches on the provider", () => {
    expect(verifyWebhook("github", { "x-hub-signature-256": `sha256=${hmac(BODY)}` }, BODY, SECRET).ok).toBe(
      true,
    );
    expect(verifyWebhook("gitea", { "x-gitea-signature": hmac(BODY) }, BODY, SECRET).ok).toBe(true);
    expect(verifyWebhook("gitlab", { "x-gitlab-token": SECRET }, BODY, SECRET).ok).toBe(true);
    expect(verifyWebhook("gitlab", { "x-hub-signature-256": `sha256=${hmac(BODY)}` }, BODY, SECRET).ok).toBe(
      false,
    );
  });
});
