import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../test-support/wait-for.js";
import { RawClient } from "./raw-client.js";
import { type Backend, startBackend, startRouter, target, type TestRouter } from "./test-fixtures.js";

/**
 * A stop (an edge handing its listener to a new edge, a listener moved) must not cut a connection that
 * was accepted just before but has not delivered its request yet: that request was sent, and no client
 * retries one on a fresh connection.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world(): Promise<{ r: TestRouter; b: Backend }> {
  const b = await startBackend("b", (req, res) => {
    req.resume();
    res.end("ok");
  });
  cleanups.push(() => b.close());
  const r = await startRouter({
    services: [
      {
        name: "web",
        pathPrefix: "/",
        releases: [{ name: "v1", weight: 100, targets: [target("t", b.port)] }],
      },
    ],
  });
  cleanups.push(() => r.close());
  return { r, b };
}

describe("a router that stops", () => {
  it("answers the first request of a connection accepted just before, with Connection: close", async () => {
    const { r } = await world();
    const client = await RawClient.open(r.port);
    cleanups.push(() => {
      client.destroy();
      return Promise.resolve();
    });
    await waitFor(() => (r.router.openConnections() === 1 ? true : undefined), {
      what: "the router to accept the connection",
    });
    const stopped = r.router.stop({ drainMs: 100 });
    client.write("GET /late HTTP/1.1\r\nHost: app\r\n\r\n");
    const response = await client.response(3_000);
    expect(response).toMatchObject({ status: 200, body: "ok" });
    expect(response?.headers.connection).toBe("close");
    expect(await client.waitClosed(2_000)).toBe(true);
    await stopped;
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 0 });
  });

  it("still closes an idle keep-alive connection at once, and a silent fresh one after the grace", async () => {
    const { r } = await world();
    const used = await RawClient.open(r.port);
    const silent = await RawClient.open(r.port);
    cleanups.push(() => {
      used.destroy();
      silent.destroy();
      return Promise.resolve();
    });
    used.write("GET /first HTTP/1.1\r\nHost: app\r\n\r\n");
    expect(await used.response()).toMatchObject({ status: 200 });
    await waitFor(() => (r.router.openConnections() === 2 ? true : undefined), {
      what: "both connections accepted",
    });
    await r.router.stop({ drainMs: 100 });
    expect(await used.waitClosed(2_000)).toBe(true);
    expect(silent.closed || (await silent.waitClosed(2_000))).toBe(true);
  });
});
