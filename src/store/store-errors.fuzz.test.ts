import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { SlipwayError } from "../util/index.js";
import { createPostgresErrorMapper, describePostgresUrl } from "./postgres.js";
import { createSqliteErrorMapper } from "./sqlite.js";
import { errorCode, storeFault } from "./store-errors.js";

const RUNS = { numRuns: 500, interruptAfterTimeLimit: 4_000 };

// A password no random filler or message template can contain by chance: a marker and hex digits.
const password = fc.stringMatching(/^[0-9a-f]{12}$/).map((hex) => `Pw${hex}`);
const code = fc.oneof(
  fc.constantFrom(
    "SQLITE_FULL",
    "SQLITE_IOERR_WRITE",
    "SQLITE_IOERR_FSYNC",
    "SQLITE_READONLY_DBMOVED",
    "SQLITE_BUSY_SNAPSHOT",
    "SQLITE_CONSTRAINT_UNIQUE",
    "SQLITE_ERROR",
    "ENOSPC",
    "ECONNRESET",
    "53100",
    "57P01",
    "25006",
    "08006",
    "23505",
    "40001",
    "42P01",
  ),
  fc.string({ maxLength: 12 }),
);
/** What drivers throw: an Error or a plain object, with or without a code, the password anywhere in its text. */
const driverError = fc
  .record({
    code: fc.option(code, { nil: undefined }),
    before: fc.string({ maxLength: 30 }),
    after: fc.string({ maxLength: 30 }),
    leak: fc.boolean(),
    plain: fc.boolean(),
  })
  .chain((shape) => password.map((pw) => ({ ...shape, pw })));

describe("store error mapping (property)", () => {
  it("is store_unavailable with the cause exactly for the store's faults, never throws, never shows the password", () => {
    fc.assert(
      fc.property(driverError, fc.constantFrom<"read" | "write">("read", "write"), (d, op) => {
        const message = d.leak ? `${d.before}${d.pw}${d.after}` : `${d.before}${d.after}`;
        const error: unknown = d.plain
          ? { code: d.code, message }
          : Object.assign(new Error(message), d.code === undefined ? {} : { code: d.code });
        const target = describePostgresUrl(`postgres://slipway:${d.pw}@db.example:5432/slipway`);
        for (const mapped of [
          createPostgresErrorMapper(target)(error, op),
          createSqliteErrorMapper("/data/slipway.db")(error, op),
        ]) {
          const fault = storeFault(error);
          if (fault === undefined) {
            expect(mapped).toBe(error);
            continue;
          }
          expect(mapped).toBeInstanceOf(SlipwayError);
          const e = mapped as SlipwayError;
          expect(e.code).toBe("store_unavailable");
          expect(e.details).toEqual({ cause: errorCode(error) ?? "connection", reason: fault.reason });
          expect(e.message).toContain(fault.cause);
          expect(e.cause).toBe(error);
        }
        const pgMapped = createPostgresErrorMapper(target)(error, op);
        if (pgMapped instanceof SlipwayError) expect(pgMapped.message).not.toContain(d.pw);
      }),
      RUNS,
    );
  });
});
