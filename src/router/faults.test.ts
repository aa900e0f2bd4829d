import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";

import { type Backend, send, sendMany, startBackend, startRouter, target } from "./test-fixtures.js";
import type { RouteTable } from "./types.js";
import { findFreePort } from "../util/index.js";
import { waitFor } from "../test-support/wait-for.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

function oneRelease(...ports: number[]): RouteTable {
  return {
    services: [
      {
        name: "web",
        pathPrefix: "/",
        releases: [{ name: "v1", weight: 100, targets: ports.map((p, i) => target(`t${i}`, p)) }],
      },
    ],
  };
}

async function router(table: RouteTable, headersMs = 2_000) {
  const r = await startRouter(table, { timeouts: { connectMs: 1_000, headersMs, bodyMs: 5_000 } });
  cleanups.push(() => r.close());
  return r;
}

describe("retries", () => {
  it("retries a GET refused by one target on another target of the release", async () => {
    const dead = await findFreePort();
    const live = await backend("live");
    const r = await router(oneRelease(dead, live.port));
    const statuses = await sendMany(r.url, 10, 1);
    expect(statuses).toEqual(Array<number>(10).fill(200));
    expect(live.seen.length).toBe(10);
    expect(r.router.stats("web", "v1").window(0).errors).toBe(0);
  });

  it("retries a POST refused before any of its body was sent", async () => {
    const dead = await findFreePort();
    const live = await backend("live");
    const r = await router(oneRelease(dead, live.port));
    const res = await send(r.url, { method: "POST", body: "payload" });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ backend: "live", body: "payload" });
  });

  it("does not retry a POST whose body reached a target that then broke the connection", async () => {
    const breaker = await backend("breaker", (req) => {
      req.resume();
      req.on("end", () => req.socket.destroy());
    });
    const other = await backend("other");
    const r = await router(oneRelease(breaker.port, other.port));
    const res = await send(r.url, { method: "POST", body: "charge the card" });
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ code: "upstream_unavailable" });
    expect(breaker.seen.length).toBe(1);
    expect(other.seen.length).toBe(0);
    const w = r.router.stats("web", "v1").window(0);
    expect(w.errors).toBe(1);
    expect(w.statusClasses["5xx"]).toBe(1);
  });

  it("answers 502 when every target refuses", async () => {
    const r = await router(oneRelease(await findFreePort(), await findFreePort()));
    const res = await send(r.url);
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ code: "upstream_unavailable" });
  });
});

describe("timeouts and target errors", () => {
  it("answers 504 when a target accepts the request and never answers", async () => {
    const hanging = await backend("hanging", () => undefined);
    const r = await router(oneRelease(hanging.port), 300);
    const res = await send(r.url);
    expect(res.status).toBe(504);
    expect(res.json()).toMatchObject({ code: "upstream_timeout" });
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 1 });
    expect(r.router.stats("web", "v1").inFlight).toBe(0);
  });

  it("counts a target's 5xx as errors and its 4xx as not", async () => {
    const b = await backend("b", (req, res) => {
      res.statusCode = req.url === "/boom" ? 500 : 404;
      res.end();
    });
    const r = await router(oneRelease(b.port));
    expect((await send(`${r.url}/boom`)).status).toBe(500);
    expect((await send(`${r.url}/missing`)).status).toBe(404);
    const w = r.router.stats("web", "v1").window(0);
    expect(w).toMatchObject({ requests: 2, errors: 1 });
    expect(w.statusClasses).toEqual({ "2xx": 0, "3xx": 0, "4xx": 1, "5xx": 1 });
  });

  it("cuts the client connection when a target breaks off mid-body, and counts an error", async () => {
    const b = await backend("b", (_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
      setImmediate(() => res.socket?.destroy());
    });
    const r = await router(oneRelease(b.port));
    await expect(send(r.url)).rejects.toThrow();
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 1 });
  });
});

describe("clients that go away", () => {
  it("aborts the target request, frees the slot and records an abort", async () => {
    let targetSawClose = false;
    const hanging = await backend("hanging", (req) => {
      req.socket.on("close", () => (targetSawClose = true));
    });
    const r = await router(oneRelease(hanging.port), 10_000);
    const controller = new AbortController();
    const pending = request(r.url, { signal: controller.signal }).catch(() => "aborted");
    await waitFor(() => hanging.seen.length > 0, {
      what: "the request to reach the hanging target",
      intervalMs: 5,
    });
    expect(r.router.stats("web", "v1").inFlight).toBe(1);
    controller.abort();
    expect(await pending).toBe("aborted");
    await waitFor(() => targetSawClose, { what: "the target to see its connection close", intervalMs: 5 });
    const stats = r.router.stats("web", "v1");
    expect(stats.inFlight).toBe(0);
    // Left early: an abort, apart from the requests the release is judged on.
    expect(stats.window(0)).toMatchObject({ requests: 0, aborted: 1, errors: 0 });
  });
});

describe("drain of a target removed from the table", () => {
  it("lets its in-flight request finish while new requests go to the new target", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const old = await backend("old", (_req, res) => {
      void gate.then(() => res.end("old done"));
    });
    const fresh = await backend("fresh");
    const r = await router(oneRelease(old.port), 10_000);
    const inFlight = send(r.url);
    await waitFor(() => old.seen.length > 0, { what: "the request to reach the old target", intervalMs: 5 });
    r.router.setRoutes(oneRelease(fresh.port));
    expect((await send(r.url)).json().backend).toBe("fresh");
    release();
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.body).toBe("old done");
  });
});
