/**
 * What the server does with a slipway.yaml it cannot use, arriving as a JSON string: invalid bytes
 * (which only reach the handler as U+FFFD), lone surrogates, too many problems, too large a text, and
 * the largest valid file. Every refusal is a 422 (or the request's own 400/413) and writes nothing.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_CONFIG_BYTES, WORST_CASES } from "../config/index.js";
import { createSilentLogger } from "../log/index.js";
import type { Store } from "../store/index.js";
import { storeBackends } from "../test-support/stores.js";
import { buildApi } from "./index.js";

describe.each(storeBackends())("config input on $name", (backend) => {
  let store: Store;
  let app: FastifyInstance;
  let headers: Record<string, string>;

  beforeAll(async () => {
    store = await backend.open();
    const admin = (await store.tokens.create({ name: "admin", role: "admin", createdBy: "test" })).token;
    headers = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
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

  /** Raw JSON text, so a test can put in it what JSON.stringify would not. */
  const send = (route: "plan" | "apply", body: string | Buffer) =>
    app.inject({ method: "POST", url: `/api/v1/config/${route}`, headers, payload: body });
  const sourceBody = (source: string, extra = "") =>
    `{"source":${JSON.stringify(source)},"file":"slipway.yaml"${extra}}`;

  async function expectNothingWritten(): Promise<void> {
    expect(await store.config.currentRevision()).toBe(0);
    expect(await store.config.listObjects()).toEqual([]);
  }

  it("bytes that are not UTF-8 are refused at the line and column where they were", async () => {
    const body = Buffer.concat([
      Buffer.from('{"source":"project: shop\\nservices:\\n  caf'),
      Buffer.from([0xe9]),
      Buffer.from(': {}\\n","file":"slipway.yaml","baseRevision":0}'),
    ]);
    const res = await send("apply", body);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: "invalid_config" });
    expect(res.json().errors).toEqual([
      expect.objectContaining({ line: 3, column: 6, message: expect.stringMatching(/U\+FFFD/) as string }),
    ]);
    await expectNothingWritten();
  });

  it("a lone surrogate (a \\ud800 escape) is refused where it is", async () => {
    for (const route of ["plan", "apply"] as const) {
      const res = await send(
        route,
        sourceBody("project: shop\n# x\n", route === "apply" ? ',"baseRevision":0' : "").replace(
          "# x",
          "# \\ud800",
        ),
      );
      expect(res.statusCode).toBe(422);
      expect(res.json().errors[0]).toMatchObject({ line: 2, column: 3 });
    }
    await expectNothingWritten();
  });

  it("a file with thousands of problems answers the first 100 and the count of the rest", async () => {
    const source = `project: shop\n${Array.from({ length: 5000 }, (_, i) => `k${i}: 1\n`).join("")}`;
    const res = await send("apply", sourceBody(source, ',"baseRevision":0'));
    expect(res.statusCode).toBe(422);
    const problem = res.json();
    expect(problem.errors).toHaveLength(100);
    expect(problem.detail).toMatch(
      /^slipway\.yaml:2:1: unknown key "k0".* \(and 4999 more; the first 100 are listed\)$/,
    );
    await expectNothingWritten();
  });

  it("a text over the limit is refused: by length in the request, by UTF-8 bytes in the config", async () => {
    const long = await send("plan", sourceBody(`project: shop\n#${"x".repeat(MAX_CONFIG_BYTES)}\n`));
    expect(long.statusCode).toBe(400);
    expect(long.json().code).toBe("invalid_request");
    const wide = await send("plan", sourceBody(`project: shop\n#${"é".repeat(MAX_CONFIG_BYTES / 2)}\n`));
    expect(wide.statusCode).toBe(422);
    expect(wide.json().errors[0].message).toMatch(/^the file is \d+ KiB; the limit is 128 KiB/);
    await expectNothingWritten();
  });

  it("the event loop stays free while the worst file we could build is checked", async () => {
    // The check runs on a worker thread (config-parser.ts): /healthz, asked once the plan's handler
    // has its body, is answered first. Were the parse on the event loop, nothing could answer until
    // it was done.
    const own = await buildApi({
      store,
      logger: createSilentLogger(),
      info: { version: "0.0.0-test", startedAt: new Date().toISOString() },
    });
    let handlerStarts!: () => void;
    const started = new Promise<void>((resolve) => (handlerStarts = resolve));
    own.addHook("preHandler", (request, _reply, done) => {
      if (request.url === "/api/v1/config/plan") handlerStarts();
      done();
    });
    try {
      const address = await own.listen({ host: "127.0.0.1", port: 0 });
      const source = WORST_CASES["unknown top-level keys"]?.(MAX_CONFIG_BYTES) ?? "";
      const order: string[] = [];
      const plan = fetch(`${address}/api/v1/config/plan`, {
        method: "POST",
        headers,
        body: sourceBody(source),
      }).then((res) => {
        order.push("plan");
        return res.status;
      });
      await started;
      const health = await fetch(`${address}/healthz`).then((res) => {
        order.push("healthz");
        return res.status;
      });
      expect([health, await plan]).toEqual([200, 422]);
      expect(order).toEqual(["healthz", "plan"]);
    } finally {
      await own.close();
    }
  });

  it("the largest valid file plans: every service in it is to add", async () => {
    const source = WORST_CASES["many valid services"]?.(MAX_CONFIG_BYTES) ?? "";
    const res = await send("plan", sourceBody(source));
    expect(res.statusCode).toBe(200);
    expect(res.json().plan.summary.add).toBeGreaterThan(1000);
  });
});
