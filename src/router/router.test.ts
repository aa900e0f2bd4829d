import { afterEach, describe, expect, it } from "vitest";

import {
  type Backend,
  type TestRouter,
  rawRequest,
  send,
  sendMany,
  startBackend,
  startRouter,
  target,
} from "./test-fixtures.js";
import type { RouteTable } from "./types.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backend(name: string): Promise<Backend> {
  const b = await startBackend(name);
  cleanups.push(() => b.close());
  return b;
}

async function router(table: RouteTable): Promise<TestRouter> {
  const r = await startRouter(table);
  cleanups.push(() => r.close());
  return r;
}

function split(a: Backend, b: Backend, weightA: number): RouteTable {
  return {
    services: [
      {
        name: "web",
        pathPrefix: "/",
        releases: [
          { name: "stable", weight: weightA, targets: [target("a", a.port)] },
          { name: "canary", weight: 100 - weightA, targets: [target("b", b.port)] },
        ],
      },
    ],
  };
}

describe("weighted split", () => {
  it("splits 2,000 requests by weight within 4 standard deviations", async () => {
    const a = await backend("a");
    const b = await backend("b");
    const r = await router(split(a, b, 30));
    const statuses = await sendMany(r.url, 2_000, 4);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // σ = sqrt(2000 · 0.3 · 0.7) ≈ 20.5
    expect(Math.abs(a.seen.length - 600)).toBeLessThan(82);
    expect(a.seen.length + b.seen.length).toBe(2_000);
  });

  it("sends nothing new to a weight-0 release", async () => {
    const a = await backend("a");
    const b = await backend("b");
    const r = await router(split(a, b, 100));
    await sendMany(r.url, 200, 2);
    expect(b.seen.length).toBe(0);
    expect(a.seen.length).toBe(200);
  });

  it("round-robins across a release's targets", async () => {
    const a = await backend("a");
    const b = await backend("b");
    const table: RouteTable = {
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [{ name: "v1", weight: 100, targets: [target("a", a.port), target("b", b.port)] }],
        },
      ],
    };
    const r = await router(table);
    await sendMany(r.url, 100, 1);
    expect(a.seen.length).toBe(50);
    expect(b.seen.length).toBe(50);
    // The turn carries over a table swap: a control plane re-sending the table often favours no one.
    for (let i = 0; i < 10; i++) {
      r.router.setRoutes(table);
      await send(r.url);
    }
    expect(a.seen.length).toBe(55);
    expect(b.seen.length).toBe(55);
  });
});

describe("sticky cookie and override header", () => {
  it("pins a client to the release its first response named", async () => {
    const a = await backend("a");
    const b = await backend("b");
    const r = await router(split(a, b, 50));
    const first = await send(r.url);
    const cookie = String(first.headers["set-cookie"]);
    expect(cookie).toMatch(/^slipway_release=(stable|canary); Path=\/; HttpOnly; SameSite=Lax$/);
    const pinned = first.json().backend;
    const value = cookie.split(";")[0] ?? "";
    for (let i = 0; i < 20; i++) {
      const res = await send(r.url, { headers: { cookie: `theme=dark; ${value}` } });
      expect(res.json().backend).toBe(pinned);
      expect(res.headers["set-cookie"]).toBeUndefined();
    }
  });

  it("re-picks and re-pins when the cookie's release has weight 0", async () => {
    const a = await backend("a");
    const b = await backend("b");
    const r = await router(split(a, b, 50));
    r.router.setRoutes(split(a, b, 100));
    const res = await send(r.url, { headers: { cookie: "slipway_release=canary" } });
    expect(res.json().backend).toBe("a");
    // A single live release: nothing to pin, no cookie.
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("sends a request to the release the override header names, whatever its weight", async () => {
    const a = await backend("a");
    const b = await backend("b");
    const r = await router(split(a, b, 100));
    const res = await send(r.url, { headers: { "x-slipway-release": "canary" } });
    expect(res.json().backend).toBe("b");
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("refuses an override naming no release of the service", async () => {
    const a = await backend("a");
    const b = await backend("b");
    const r = await router(split(a, b, 100));
    const res = await send(r.url, { headers: { "x-slipway-release": "v9" } });
    expect(res.status).toBe(404);
    expect(res.json().code).toBe("unknown_release");
  });
});

describe("routing by host and longest prefix", () => {
  it("prefers the host's services, then the longest prefix, at path boundaries", async () => {
    const [site, api, apiV2, admin] = await Promise.all(
      ["site", "api", "api-v2", "admin"].map((n) => backend(n)),
    );
    const svc = (name: string, pathPrefix: string, b: Backend, host?: string) => ({
      name,
      pathPrefix,
      ...(host === undefined ? {} : { host }),
      releases: [{ name: "v1", weight: 100, targets: [target(name, b.port)] }],
    });
    const r = await router({
      services: [
        svc("site", "/", site!),
        svc("api", "/api", api!),
        svc("api-v2", "/api/v2/", apiV2!),
        svc("admin", "/", admin!, "Admin.Example.com"),
      ],
    });
    const hit = async (path: string, host?: string) =>
      (await send(`${r.url}${path}`, host === undefined ? {} : { headers: { host } })).json().backend;
    expect(await hit("/api")).toBe("api");
    expect(await hit("/api?x=1")).toBe("api");
    expect(await hit("/api/users")).toBe("api");
    expect(await hit("/apix")).toBe("site");
    expect(await hit("/api/v2/users")).toBe("api-v2");
    expect(await hit("/api/v2")).toBe("api");
    expect(await hit("/api", "admin.example.com:8080")).toBe("admin");
    expect(await hit("/", "other.example.com")).toBe("site");
  });

  it("answers 404 no_route as a problem document when nothing matches", async () => {
    const a = await backend("a");
    const r = await router({
      services: [
        {
          name: "api",
          pathPrefix: "/api",
          releases: [{ name: "v1", weight: 100, targets: [target("a", a.port)] }],
        },
      ],
    });
    const res = await send(`${r.url}/other`, { headers: { "x-request-id": "req-1" } });
    expect(res.status).toBe(404);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(res.headers["x-request-id"]).toBe("req-1");
    expect(res.json()).toMatchObject({ type: "urn:slipway:problem:no_route", status: 404, code: "no_route" });
  });

  it("answers 503 no_ready_target for a release without targets, and counts it as an error", async () => {
    const r = await router({
      services: [{ name: "web", pathPrefix: "/", releases: [{ name: "v1", weight: 100, targets: [] }] }],
    });
    const res = await send(r.url);
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ code: "no_ready_target", status: 503 });
    const w = r.router.stats("web", "v1").window(0);
    expect(w.requests).toBe(1);
    expect(w.errors).toBe(1);
    expect(w.statusClasses["5xx"]).toBe(1);
  });
});

describe("forwarded headers", () => {
  it("adds X-Forwarded-* and a request id, and keeps an incoming id", async () => {
    const a = await backend("a");
    const r = await router(split(a, a, 100));
    const seen = (await send(`${r.url}/x`, { headers: { "x-forwarded-for": "203.0.113.9" } })).json()
      .headers as Record<string, string>;
    expect(seen["x-forwarded-for"]).toBe("203.0.113.9, 127.0.0.1");
    expect(seen["x-forwarded-proto"]).toBe("http");
    expect(seen["x-forwarded-host"]).toBe(`127.0.0.1:${r.port}`);
    expect(seen["x-request-id"]).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const kept = await send(r.url, { headers: { "x-request-id": "abc-123" } });
    expect((kept.json().headers as Record<string, string>)["x-request-id"]).toBe("abc-123");
    expect(kept.headers["x-request-id"]).toBe("abc-123");
  });

  it("does not trust an incoming X-Forwarded-Proto unless told to", async () => {
    const a = await backend("a");
    const r = await router(split(a, a, 100));
    const seen = (await send(r.url, { headers: { "x-forwarded-proto": "https" } })).json().headers as Record<
      string,
      string
    >;
    expect(seen["x-forwarded-proto"]).toBe("http");
    const trusting = await startRouter(split(a, a, 100), { trustForwardedHeaders: true });
    cleanups.push(() => trusting.close());
    const trusted = (await send(trusting.url, { headers: { "x-forwarded-proto": "https" } })).json()
      .headers as Record<string, string>;
    expect(trusted["x-forwarded-proto"]).toBe("https");
  });

  it("strips hop-by-hop headers both ways, including ones the Connection header names", async () => {
    const a = await startBackend("a", (req, res) => {
      const body = JSON.stringify(req.headers);
      res.writeHead(200, {
        connection: "x-hop",
        "x-hop": "1",
        "keep-alive": "timeout=5",
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
    cleanups.push(() => a.close());
    const r = await router(split(a, a, 100));
    const raw = await rawRequest(
      r.port,
      "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nTE: trailers\r\n" +
        "Proxy-Authorization: Basic eA==\r\nX-Keep: yes\r\n\r\n",
    );
    const [head, body] = raw.split("\r\n\r\n");
    const received = JSON.parse(body ?? "{}") as Record<string, string>;
    expect(received["x-keep"]).toBe("yes");
    expect(received["x-secret"]).toBeUndefined();
    expect(received.te).toBeUndefined();
    expect(received["proxy-authorization"]).toBeUndefined();
    expect(head?.toLowerCase()).not.toContain("x-hop");
    expect(head?.toLowerCase()).not.toContain("keep-alive: timeout");
  });
});
