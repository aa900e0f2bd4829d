import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import fc from "fast-check";
import type { FastifyInstance, InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import type { Store } from "../store/index.js";
import { storeBackends } from "../test-support/stores.js";
import type { ErrorCode } from "../util/index.js";
import {
  bodyArbitrary,
  headersArbitrary,
  queryArbitrary,
  segmentArbitrary,
  type FuzzInput,
  type JsonSchema,
} from "./fuzz-fixtures.js";
import { buildApi } from "./index.js";
import { problemStatus } from "./problem.js";

/** Generous: a refusal takes milliseconds; this catches a hang or a quadratic path, not jitter. */
const ANSWER_BOUND_MS = 3000;
/**
 * This API runs without a node agent and without the pipeline engine, so the routes that need them
 * answer 502 `not_configured` by design (after validating the request). That is the one 5xx allowed.
 */
const ABSENT_BY_DESIGN: ErrorCode = "not_configured";

const SEED_CONFIG = `project: shop
environments:
  staging:
    router: { listen: 127.0.0.1:8081 }
services:
  web:
    route: { path: / }
    run: { command: node server.js, instances: 2 }
`;

interface Operation {
  method: string;
  template: string;
  pathParams: { name: string; schema?: JsonSchema }[];
  queryParams: { name: string; schema?: JsonSchema }[];
  body: JsonSchema | undefined;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string; schema?: JsonSchema }[];
        requestBody?: { content: Record<string, { schema?: JsonSchema }> };
      }
    >
  >;
}

/** Every operation the OpenAPI document describes: a route added later is fuzzed without a change here. */
function operationsOf(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      template,
      pathParams: (op.parameters ?? []).filter((p) => p.in === "path"),
      queryParams: (op.parameters ?? []).filter((p) => p.in === "query"),
      body: op.requestBody?.content["application/json"]?.schema,
    })),
  );
}

function requestArbitrary(op: Operation): fc.Arbitrary<FuzzInput> {
  const body = bodyArbitrary(op.body);
  return fc.record({
    path: fc
      .tuple(...op.pathParams.map((p) => segmentArbitrary(p.schema)))
      .map((values) =>
        op.pathParams.reduce((path, p, i) => path.replace(`{${p.name}}`, values[i] ?? ""), op.template),
      ),
    query: queryArbitrary(op.queryParams),
    headers: headersArbitrary,
    // Bodies on every method: a GET or DELETE with a body must be refused or ignored, never crash.
    body: op.body === undefined ? fc.oneof(fc.constant({ kind: "none" }), body) : body,
  });
}

/** Something a reader of this failure can paste into curl. */
function describeRequest(op: Operation, input: FuzzInput): string {
  const payload = input.body.payload;
  const shown = payload === undefined ? "" : ` ${payload.toString().slice(0, 300)}`;
  return `${op.method} ${input.path}${input.query === "" ? "" : `?${input.query}`} [${input.body.kind} ${input.body.contentType ?? "-"}]${shown}`;
}

describe("API fuzzing: random and mutated requests to every route", () => {
  const backend = storeBackends().find((b) => b.name === "sqlite")!;
  const secret = "fuzz-local-admin-secret";
  let store: Store;
  let app: FastifyInstance;
  let db: Database.Database;
  let tables: string[];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    process.on("uncaughtException", onUnhandled);
    store = await backend.open();
    // The in-process admin: a fuzzed DELETE /tokens/:id can never revoke it halfway through the run.
    app = await buildApi({
      store,
      logger: createSilentLogger(),
      info: { version: "0.0.0-fuzz", startedAt: new Date().toISOString() },
      local: { secret, actor: "local:fuzz" },
    });
    await app.ready();
    // Something to read, to be stale against and to conflict with: revision 1, its objects and events.
    const seeded = await app.inject({
      method: "POST",
      url: "/api/v1/config/apply",
      headers: { authorization: `Bearer ${secret}` },
      payload: { source: SEED_CONFIG, file: "slipway.yaml", baseRevision: 0 },
    });
    expect(seeded.statusCode).toBe(200);
    // A second, read-only connection: `data_version` changes whenever another connection commits.
    db = new Database(join(backend.optionsOf(store).dataDir, "slipway.db"), { readonly: true });
    tables = (
      db
        .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
        .all() as {
        name: string;
      }[]
    ).map((t) => t.name);
  });
  afterAll(async () => {
    process.off("unhandledRejection", onUnhandled);
    process.off("uncaughtException", onUnhandled);
    db.close();
    await app.close();
    await store.close();
  });

  /** What "nothing written" compares: a commit counter and the row count of every table. */
  const snapshot = () => ({
    version: db.pragma("data_version", { simple: true }) as number,
    rows: db
      .prepare(`select ${tables.map((t) => `(select count(*) from "${t}") as "${t}"`).join(", ")}`)
      .get() as Record<string, number>,
  });

  async function send(op: Operation, input: FuzzInput) {
    const headers: Record<string, string> = { ...input.headers, authorization: `Bearer ${secret}` };
    if (input.body.contentType !== undefined) headers["content-type"] = input.body.contentType;
    const options: InjectOptions = {
      method: op.method,
      url: input.query === "" ? input.path : `${input.path}?${input.query}`,
      headers,
      ...(input.body.payload === undefined ? {} : { payload: input.body.payload }),
    };
    const started = performance.now();
    const res = await app.inject(options);
    return { res, ms: performance.now() - started };
  }

  it("never answers 5xx, answers every refusal with a coded problem, and writes nothing when it refuses", async () => {
    const doc = (
      await app.inject({ url: "/api/v1/openapi.json", headers: { authorization: `Bearer ${secret}` } })
    ).json<OpenApiDocument>();
    const operations = operationsOf(doc);
    expect(operations.length).toBeGreaterThan(30);
    // Built once per route: rebuilding schema arbitraries (regexes) on every run costs more than the request.
    const arbitrary = fc.oneof(
      ...operations.map((op) => requestArbitrary(op).map((input) => [op, input] as const)),
    );
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(arbitrary, async ([op, input]) => {
        const what = describeRequest(op, input);
        const before = snapshot();
        const { res, ms } = await send(op, input);
        sent += 1;
        const answer = `${what} → ${res.statusCode} ${res.body.slice(0, 300)}`;
        expect(ms, `${what} took ${Math.round(ms)} ms`).toBeLessThan(ANSWER_BOUND_MS);
        expect(res.body, answer).not.toMatch(/\n\s+at .+:\d+:\d+/);
        if (res.statusCode < 400) return;
        expect(res.headers["content-type"], answer).toContain("application/problem+json");
        const problem = res.json<{ code: ErrorCode; status: number; type: string }>();
        // problemStatus throws for a code outside the catalogue: a stable, known code or a failure.
        expect(problemStatus(problem.code), answer).toBe(res.statusCode);
        expect(problem.type, answer).toBe(`urn:slipway:problem:${problem.code}`);
        if (res.statusCode >= 500) expect(problem.code, answer).toBe(ABSENT_BY_DESIGN);
        expect(snapshot(), `${answer}: wrote to the store`).toEqual(before);
      }),
      { numRuns: 500, interruptAfterTimeLimit: 6_000 },
    );
    expect(sent).toBeGreaterThan(50);
    expect(unhandled).toEqual([]);
  });
});
