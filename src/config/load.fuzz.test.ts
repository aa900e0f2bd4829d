/**
 * Fuzzing slipway.yaml loading: mutated examples, random YAML-ish text and damaged bytes. Whatever the
 * input, loading either returns a config that passes the schema and is plain data, or throws a
 * ConfigError whose every issue is located; never another exception, never a long wait. Through the
 * API, plan and apply answer 200, 409 or 422 only, and a refusal writes nothing.
 */
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi } from "../api/index.js";
import { createSilentLogger } from "../log/index.js";
import type { Store } from "../store/index.js";
import { storeBackends } from "../test-support/stores.js";
import { ConfigError, MAX_REPORTED_ISSUES } from "../util/index.js";
import { anySource, damagedBytes } from "./load-fuzz-fixtures.js";
import { parseConfig, type LoadedConfig } from "./load.js";
import { configSchema } from "./schema.js";
import { decodeConfigBytes, firstInvalidUtf8 } from "./source-text.js";

/** Generous: these inputs parse in milliseconds; the bound catches a hang or a blow-up, not jitter. */
const PARSE_BOUND_MS = 2000;

/** The outcome of loading, with what the properties need to know about a refusal. */
function load(run: () => LoadedConfig): LoadedConfig | ConfigError {
  const started = performance.now();
  try {
    return run();
  } catch (error) {
    // Anything else (a TypeError, a RangeError from recursion) is exactly what this test looks for.
    if (error instanceof ConfigError) return error;
    throw error;
  } finally {
    expect(performance.now() - started).toBeLessThan(PARSE_BOUND_MS);
  }
}

function checkOutcome(outcome: LoadedConfig | ConfigError, file: string): void {
  if (outcome instanceof ConfigError) {
    expect(outcome.code).toBe("invalid_config");
    expect(outcome.issues.length).toBeGreaterThan(0);
    expect(outcome.issues.length).toBeLessThanOrEqual(MAX_REPORTED_ISSUES);
    expect(outcome.total).toBeGreaterThanOrEqual(outcome.issues.length);
    for (const issue of outcome.issues) {
      expect(issue.file).toBe(file);
      expect(Number.isInteger(issue.line) && issue.line >= 0).toBe(true);
      expect(Number.isInteger(issue.column) && issue.column >= 0).toBe(true);
      expect(typeof issue.path).toBe("string");
      expect(issue.message.length).toBeGreaterThan(0);
    }
    return;
  }
  // Accepted: the schema agrees, and the config is plain data the store can keep as JSON.
  expect(configSchema.safeParse(outcome.config).success).toBe(true);
  expect(JSON.parse(JSON.stringify(outcome.config))).toEqual(outcome.config);
  expect(Object.isFrozen(outcome.config)).toBe(true);
  expect(outcome.source).not.toMatch(/\uFFFD/);
}

describe("loading any slipway.yaml", () => {
  it("accepts a config the schema passes, or refuses with located issues", () => {
    fc.assert(
      fc.property(anySource, (source) => {
        checkOutcome(
          load(() => parseConfig(source, "slipway.yaml")),
          "slipway.yaml",
        );
      }),
      { numRuns: 400, interruptAfterTimeLimit: 7_000 },
    );
  });

  it("refuses bytes that are not UTF-8 at a line of the file, and reads the rest as before", () => {
    fc.assert(
      fc.property(damagedBytes, (bytes) => {
        const outcome = load(() => parseConfig(decodeConfigBytes(bytes, "slipway.yaml"), "slipway.yaml"));
        checkOutcome(outcome, "slipway.yaml");
        if (firstInvalidUtf8(bytes) >= 0) {
          expect(outcome).toBeInstanceOf(ConfigError);
          expect((outcome as ConfigError).issues[0]?.line).toBeGreaterThanOrEqual(1);
          expect((outcome as ConfigError).issues[0]?.message).toMatch(/^the file is not valid UTF-8/);
        }
      }),
      { numRuns: 200, interruptAfterTimeLimit: 3_000 },
    );
  });
});

describe.each(storeBackends().filter((backend) => backend.name === "sqlite"))(
  "plan and apply of any slipway.yaml on $name",
  (backend) => {
    let store: Store;
    let app: FastifyInstance;
    let headers: Record<string, string>;

    beforeAll(async () => {
      store = await backend.open();
      const admin = (await store.tokens.create({ name: "admin", role: "admin", createdBy: "test" })).token;
      headers = { authorization: `Bearer ${admin}` };
      app = await buildApi({
        store,
        logger: createSilentLogger(),
        info: { version: "0.0.0-test", startedAt: new Date().toISOString() },
      });
    });
    afterAll(async () => {
      await app.close();
      await store.close();
    });

    it("answers 200, 409 or 422 only, and a refusal writes nothing", async () => {
      await fc.assert(
        fc.asyncProperty(anySource, fc.boolean(), async (source, stale) => {
          const before = await store.config.currentRevision();
          const objects = await store.config.listObjects();
          const post = (route: string, body: object) =>
            app.inject({ method: "POST", url: `/api/v1/config/${route}`, headers, payload: body });
          const planned = await post("plan", { source, file: "slipway.yaml" });
          expect([200, 422]).toContain(planned.statusCode);
          const baseRevision = stale ? before + 1 : before;
          const applied = await post("apply", { source, file: "slipway.yaml", baseRevision });
          expect([200, 409, 422]).toContain(applied.statusCode);
          if (applied.statusCode !== 200 || !applied.json<{ applied: boolean }>().applied) {
            expect(await store.config.currentRevision()).toBe(before);
            expect(await store.config.listObjects()).toEqual(objects);
          }
        }),
        { numRuns: 80, interruptAfterTimeLimit: 6_000 },
      );
    });
  },
);
