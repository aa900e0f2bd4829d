import SwaggerParser from "@apidevtools/swagger-parser";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import type { Store } from "../store/index.js";
import { storeBackends } from "../test-support/stores.js";
import { buildApi } from "./index.js";

const configV1 = `project: shop
environments:
  staging:
    router: { listen: 127.0.0.1:8081 }
services:
  web:
    route: { path: / }
    run: { command: node server.js, instances: 2 }
`;
const configV2 = configV1.replace("instances: 2", "instances: 3");

describe.each(storeBackends())("API on $name", (backend) => {
  let store: Store;
  let app: FastifyInstance;
  let admin: string;
  const auth = (token: string = admin) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    store = await backend.open();
    admin = (await store.tokens.create({ name: "admin", role: "admin", createdBy: "test" })).token;
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

  const plan = (source: string) =>
    app.inject({
      method: "POST",
      url: "/api/v1/config/plan",
      headers: auth(),
      payload: { source, file: "slipway.yaml" },
    });
  const apply = (source: string, baseRevision: number, token?: string) =>
    app.inject({
      method: "POST",
      url: "/api/v1/config/apply",
      headers: auth(token),
      payload: { source, file: "slipway.yaml", baseRevision },
    });

  it("refuses requests without a token, or with a wrong one, with the same 401 problem", async () => {
    const none = await app.inject({ method: "GET", url: "/api/v1/status" });
    const wrong = await app.inject({ method: "GET", url: "/api/v1/status", headers: auth("slw_nope") });
    for (const res of [none, wrong]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.headers["www-authenticate"]).toContain("Bearer");
      expect(res.json()).toMatchObject({
        status: 401,
        code: "unauthorized",
        type: "urn:slipway:problem:unauthorized",
      });
    }
    expect(none.json().detail).toBe(wrong.json().detail);
  });

  it("serves a valid OpenAPI 3.1 document describing its routes", async () => {
    const res = await app.inject({ method: "GET", url: "/api/v1/openapi.json", headers: auth() });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/config/plan",
        "/api/v1/config/apply",
        "/api/v1/events",
        "/api/v1/tokens",
      ]),
    );
    expect(
      doc.paths["/api/v1/config/apply"].post.requestBody.content["application/json"].schema.required,
    ).toEqual(expect.arrayContaining(["source", "file", "baseRevision"]));
  });

  it("plans, applies as revision 1, then plans no changes", async () => {
    const first = await plan(configV1);
    expect(first.statusCode).toBe(200);
    expect(first.json().baseRevision).toBe(0);
    expect(first.json().plan.summary).toEqual({ add: 3, change: 0, delete: 0 });

    const applied = await apply(configV1, 0);
    expect(applied.statusCode).toBe(200);
    expect(applied.json()).toMatchObject({ applied: true, revision: 1 });

    const again = await plan(configV1);
    expect(again.json()).toMatchObject({
      baseRevision: 1,
      plan: { changes: [], summary: { add: 0, change: 0, delete: 0 } },
    });
    const noop = await apply(configV1, 1);
    expect(noop.json()).toMatchObject({ applied: false, revision: 1 });

    const status = await app.inject({ method: "GET", url: "/api/v1/status", headers: auth() });
    expect(status.json()).toMatchObject({
      project: "shop",
      revision: 1,
      lastApplied: { author: "token:admin" },
    });
    expect(status.json().services[0]).toMatchObject({ name: "web", spec: { run: { instances: 2 } } });
  });

  it("shows a field-level change and refuses a stale plan without changing anything", async () => {
    const planned = await plan(configV2);
    expect(planned.json().plan.changes).toEqual([
      expect.objectContaining({
        action: "update",
        kind: "service",
        name: "web",
        fields: [{ path: "run.instances", before: 2, after: 3 }],
      }),
    ]);
    const stale = await apply(configV2, 0);
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ code: "stale_plan" });
    expect(stale.json().detail).toContain("revision 0");
    expect(await store.config.currentRevision()).toBe(1);

    const ok = await apply(configV2, 1);
    expect(ok.json()).toMatchObject({ applied: true, revision: 2 });
    const revisions = await app.inject({ method: "GET", url: "/api/v1/config/revisions", headers: auth() });
    expect(revisions.json().revisions.map((r: { revision: number }) => r.revision)).toEqual([2, 1]);
    const shown = await app.inject({ method: "GET", url: "/api/v1/config/revisions/2", headers: auth() });
    expect(shown.json()).toMatchObject({ revision: 2, source: configV2 });
  });

  it("lets exactly one of two simultaneous applies win", async () => {
    const base = await store.config.currentRevision();
    const a = configV2.replace("instances: 3", "instances: 4");
    const b = configV2.replace("instances: 3", "instances: 5");
    const results = await Promise.all([apply(a, base), apply(b, base)]);
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes).toEqual([200, 409]);
    const loser = results.find((r) => r.statusCode === 409)!;
    expect(["stale_plan", "apply_conflict"]).toContain(loser.json().code);
    const winner = results.find((r) => r.statusCode === 200)!;
    const instances = winner === results[0] ? 4 : 5;
    const objects = await store.config.listObjects();
    expect(objects.find((o) => o.kind === "service")?.spec).toMatchObject({ run: { instances } });
    expect(await store.config.currentRevision()).toBe(base + 1);
  });

  it("answers an invalid config with 422 and located issues, and changes nothing", async () => {
    const before = await store.config.currentRevision();
    const res = await apply(configV1.replace("instances: 2", "instances: two"), before);
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe("invalid_config");
    expect(body.errors[0]).toMatchObject({
      file: "slipway.yaml",
      line: 8,
      path: "services.web.run.instances",
    });
    expect(await store.config.currentRevision()).toBe(before);
  });

  it("answers bad bodies with 4xx problems, never 500", async () => {
    const notJson = await app.inject({
      method: "POST",
      url: "/api/v1/config/plan",
      headers: { ...auth(), "content-type": "application/json" },
      payload: "{not json",
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().code).toBe("invalid_json");

    const extra = await app.inject({
      method: "POST",
      url: "/api/v1/config/plan",
      headers: auth(),
      payload: { source: configV1, file: "x.yaml", force: true },
    });
    expect(extra.statusCode).toBe(400);
    expect(extra.json()).toMatchObject({ code: "invalid_request" });
    expect(extra.json().detail).toContain("force");

    const missing = await app.inject({
      method: "POST",
      url: "/api/v1/config/apply",
      headers: auth(),
      payload: { source: "" },
    });
    expect(missing.statusCode).toBe(400);

    const huge = await app.inject({
      method: "POST",
      url: "/api/v1/config/plan",
      headers: auth(),
      payload: { source: "#".repeat(2 * 1024 * 1024), file: "x.yaml" },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().code).toBe("payload_too_large");

    const text = await app.inject({
      method: "POST",
      url: "/api/v1/config/plan",
      headers: { ...auth(), "content-type": "text/plain" },
      payload: "project: x",
    });
    expect(text.statusCode).toBe(415);

    const badParam = await app.inject({
      method: "GET",
      url: "/api/v1/config/revisions/abc",
      headers: auth(),
    });
    expect(badParam.statusCode).toBe(400);
    const absent = await app.inject({ method: "GET", url: "/api/v1/config/revisions/999", headers: auth() });
    expect(absent.statusCode).toBe(404);
    expect(absent.json().code).toBe("not_found");
    const noRoute = await app.inject({ method: "GET", url: "/api/v1/nope", headers: auth() });
    expect(noRoute.statusCode).toBe(404);
  });

  it("creates tokens with roles, enforces them, and revokes them at once", async () => {
    const created = await app.inject({
      method: "POST",
      url: "/api/v1/tokens",
      headers: auth(),
      payload: { name: "dashboard", role: "viewer" },
    });
    expect(created.statusCode).toBe(201);
    const { token, record } = created.json();
    expect(token).toMatch(/^slw_/);

    const read = await app.inject({ method: "GET", url: "/api/v1/status", headers: auth(token) });
    expect(read.statusCode).toBe(200);
    const write = await apply(configV1, await store.config.currentRevision(), token);
    expect(write.statusCode).toBe(403);
    expect(write.json().code).toBe("forbidden");
    const mint = await app.inject({
      method: "POST",
      url: "/api/v1/tokens",
      headers: auth(token),
      payload: { name: "x" },
    });
    expect(mint.statusCode).toBe(403);

    const list = await app.inject({ method: "GET", url: "/api/v1/tokens", headers: auth() });
    expect(JSON.stringify(list.json())).not.toContain(token);

    const revoked = await app.inject({
      method: "DELETE",
      url: `/api/v1/tokens/${record.id}`,
      headers: auth(),
    });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revokedAt).not.toBeNull();
    const after = await app.inject({ method: "GET", url: "/api/v1/status", headers: auth(token) });
    expect(after.statusCode).toBe(401);
  });

  it("lists events with type filters and records who did what", async () => {
    const res = await app.inject({
      method: "GET",
      url: "/api/v1/events?type=config.&limit=10",
      headers: auth(),
    });
    expect(res.statusCode).toBe(200);
    const events = res.json().events as { type: string; actor: string; id: number }[];
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.type.startsWith("config."))).toBe(true);
    expect(events[0]).toMatchObject({ actor: "token:admin" });
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    const bad = await app.inject({ method: "GET", url: "/api/v1/events?limit=0", headers: auth() });
    expect(bad.statusCode).toBe(400);
  });

  it("exposes health, readiness and Prometheus metrics without a token", async () => {
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain(
      'slipway_http_requests_total{method="POST",route="/api/v1/config/apply",status="200"}',
    );
    expect(metrics.body).toContain("slipway_process_resident_memory_bytes");
  });
});
