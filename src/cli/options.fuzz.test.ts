/**
 * The CLI's argument checks on arbitrary input: each one either accepts a value that is safe to use
 * (a URL the client can resolve paths against, a token a header can carry, a number in range) or
 * refuses it with the error that makes a usage message (commander's InvalidArgumentError, or a
 * UsageError) — never another exception, which the CLI would report as a bug.
 */
import { InvalidArgumentError } from "commander";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkServerUrl,
  checkToken,
  listOf,
  parseCommit,
  parseDatabaseUrl,
  parseListen,
  parseName,
  parseRunRef,
  parseServerUrl,
  parseTokenId,
  parseTypePrefixes,
  parseRole,
  UsageError,
  wholeNumber,
} from "./options.js";

const RUNS = { numRuns: 300, interruptAfterTimeLimit: 4_000 };

/** Strings that look like what people type, and anything at all. */
const input = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme-composite" }),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.constantFrom("http://", "http://[::1", "https://host:99999", "http://a b", "0", "-1", "1e3", "0x10", ""),
  fc.integer().map(String),
);

const PARSERS: Record<string, (value: string) => unknown> = {
  parseServerUrl,
  parseListen,
  parseDatabaseUrl,
  parseRunRef,
  parseCommit,
  parseTokenId,
  parseTypePrefixes,
  parseRole,
  name: parseName("a service"),
  number: wholeNumber(1, 1000),
  statuses: listOf(["queued", "failed"]),
};

function outcome(run: () => unknown): "accepted" | "refused" | Error {
  try {
    run();
    return "accepted";
  } catch (err) {
    return err instanceof InvalidArgumentError || err instanceof UsageError ? "refused" : (err as Error);
  }
}

describe("CLI argument checks (fuzzed)", () => {
  it("accept or refuse with a usage error; never throw anything else", () => {
    fc.assert(
      fc.property(input, (value) => {
        for (const [name, parse] of Object.entries(PARSERS)) {
          const result = outcome(() => parse(value));
          expect(result instanceof Error ? `${name}: ${result.message}` : "ok").toBe("ok");
        }
        for (const check of [checkServerUrl, checkToken]) {
          const result = outcome(() => check(value, "--flag"));
          expect(result instanceof Error ? result.message : "ok").toBe("ok");
        }
      }),
      RUNS,
    );
  });

  it("an accepted server URL keeps the API's paths on its own origin", () => {
    fc.assert(
      fc.property(input, (value) => {
        if (outcome(() => parseServerUrl(value)) !== "accepted") return;
        const base = new URL(value);
        const api = new URL("/api/v1/status?x=1", value);
        expect(api.origin).toBe(base.origin);
        expect(api.pathname).toBe("/api/v1/status");
        expect(outcome(() => checkServerUrl(value, "SLIPWAY_SERVER"))).toBe("accepted");
      }),
      RUNS,
    );
  });

  it("an accepted token can be sent as a bearer header, and a refusal never quotes it", () => {
    fc.assert(
      fc.property(input, (value) => {
        try {
          checkToken(value, "--token");
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          if (value.length >= 4) expect((err as Error).message).not.toContain(value);
          return;
        }
        expect(() => new Headers({ authorization: `Bearer ${value}` })).not.toThrow();
      }),
      RUNS,
    );
  });

  it("an accepted number is a whole number in range", () => {
    const parse = wholeNumber(1, 1000);
    fc.assert(
      fc.property(input, (value) => {
        if (outcome(() => parse(value)) !== "accepted") return;
        const n = parse(value);
        expect(Number.isInteger(n) && n >= 1 && n <= 1000).toBe(true);
      }),
      RUNS,
    );
  });
});
