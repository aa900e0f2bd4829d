import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { redactLogLine } from "./redact.js";

const RUNS = { numRuns: 300, interruptAfterTimeLimit: 4_000 };

// A secret no random filler can contain by chance: a marker and 16 hex digits.
const secret = fc.stringMatching(/^[0-9a-f]{16}$/).map((hex) => `Qz${hex}`);
// What a secret may look like inside a URL: raw token characters or any text percent-encoded.
const urlSecret = fc.oneof(
  secret,
  fc.tuple(secret, fc.string({ maxLength: 12 })).map(([s, text]) => encodeURIComponent(`${s}${text}`)),
  fc.tuple(secret, fc.constantFrom("'", "(", "!", "~", "*", ".", "%2F")).map(([s, c]) => `${s}${c}${s}`),
);
const credentialParameter = fc.constantFrom(
  "token",
  "access_token",
  "client_secret",
  "api_key",
  "apiKey",
  "key",
  "password",
  "sig",
  "X-Amz-Signature",
  "code",
  "auth",
  "private_token",
  "to%6Ben",
);
const filler = fc.string({ maxLength: 20 });
const plainParameter = fc.tuple(fc.constantFrom("page", "sort", "q", "state"), filler);

/** A request URL with one credential parameter somewhere among ordinary ones. */
const urlWithSecret = fc
  .tuple(
    fc.constantFrom("/api/v1/events", "/healthz", "/%61pi/v1/x", "https://host:8443/cb", ""),
    fc.array(plainParameter, { maxLength: 3 }),
    credentialParameter,
    urlSecret,
    fc.array(plainParameter, { maxLength: 3 }),
    fc.constantFrom("?", "#"),
  )
  .map(([path, before, name, value, after, start]) => {
    const parts = [
      ...before.map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
      `${name}=${value}`,
      ...after.map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
    ];
    return { url: `${path}${start}${parts.join("&")}`, value };
  });

const userinfoWithSecret = fc
  .tuple(
    fc.constantFrom("postgres", "https", "git+ssh", "redis"),
    fc.option(fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/), { nil: undefined }),
    secret,
    fc.constantFrom("", "@", "'", ":", "%40", "!$&()*+,;="),
  )
  .map(([scheme, user, s, extra]) => {
    // Alone in the userinfo, a `:` would make the first half a user name, which is kept.
    const password = user === undefined && extra === ":" ? s : `${s}${extra}${s}`;
    const userinfo = user === undefined ? password : `${user}:${password}`;
    return { url: `${scheme}://${userinfo}@db.internal:5432/x?sslmode=require`, value: s };
  });

const credentialKey = fc.constantFrom(
  "authorization",
  "Authorization",
  "cookie",
  "x-hub-signature-256",
  "X-Gitlab-Token",
  "x-slipway-hook-secret",
  "token",
  "adminToken",
  "password",
);

/** A log record as pino serializes it: some ordinary fields, the secret in one place. */
function record(place: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string> {
  return fc
    .tuple(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), place)
    .map(([noise, fields]) => `${JSON.stringify({ level: 30, ...noise, ...fields })}\n`);
}

describe("redactLogLine (fuzzed)", () => {
  it("never lets a credential through, keeps the line valid JSON, and is idempotent", () => {
    const cases = fc.oneof(
      fc.tuple(urlWithSecret, filler).map(([{ url, value }, text]) => ({
        fields: { url, msg: `GET ${url} 200 ${text}` },
        value,
      })),
      userinfoWithSecret.map(({ url, value }) => ({
        fields: { err: { message: `connect to ${url} failed` } },
        value,
      })),
      fc.tuple(credentialKey, secret, filler).map(([key, value, text]) => ({
        fields: { req: { headers: { [key]: `${text}${value}`, host: "h" } } },
        value,
      })),
      fc.tuple(credentialKey, secret, filler).map(([key, value, text]) => ({
        fields: { [key]: [`${value}"${text}`, `\\${value}`] },
        value,
      })),
    );
    fc.assert(
      fc.property(
        cases.chain(({ fields, value }) => record(fc.constant(fields)).map((line) => ({ line, value }))),
        ({ line, value }) => {
          const once = redactLogLine(line);
          expect(once).not.toContain(value);
          expect(() => JSON.parse(once) as unknown).not.toThrow();
          expect(redactLogLine(once)).toBe(once);
        },
      ),
      RUNS,
    );
  });

  it("keeps any JSON line valid JSON with the same keys", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
        const line = JSON.stringify({ msg: value, nested: { value } });
        const out = JSON.parse(redactLogLine(line)) as Record<string, unknown>;
        expect(Object.keys(out)).toEqual(["msg", "nested"]);
      }),
      RUNS,
    );
  });

  it("stays fast on long hostile text (no catastrophic backtracking)", () => {
    const hostile = fc.string({
      unit: fc.constantFrom(
        "a",
        ".",
        "-",
        ":",
        "/",
        "@",
        "?",
        "&",
        "=",
        '"',
        "\\",
        " ",
        "[",
        "]",
        ",",
        "#",
        "%",
      ),
      minLength: 5_000,
      maxLength: 20_000,
    });
    fc.assert(
      fc.property(hostile, (text) => {
        const started = performance.now();
        redactLogLine(JSON.stringify({ msg: text, url: text }));
        redactLogLine(text);
        // Generous: a linear pass over 40 kB takes well under a millisecond; quadratic takes seconds.
        expect(performance.now() - started).toBeLessThan(250);
      }),
      { numRuns: 40, interruptAfterTimeLimit: 6_000 },
    );
  });
});
