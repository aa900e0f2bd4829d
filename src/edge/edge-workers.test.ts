/**
 * The edge with router workers (`--workers 3`: the edge and two forked workers), real processes from
 * dist/ (`npm run build` first): connections spread over the processes, the merged window counts every
 * request exactly, table changes reach every worker before the PUT answers, and a worker killed with
 * SIGKILL under load is forked again while the others serve on.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SteadyLoad, startUpstream, tableTo } from "../agent/edge-fixtures.js";
import { createSilentLogger } from "../log/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { connectEdge, stopEdgeProcess, type EdgeConnection } from "./index.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function startEdge(): Promise<EdgeConnection> {
  const dataDir = mkdtempSync(join(tmpdir(), "slipway-edge-workers-"));
  const edge = await connectEdge({ dataDir, logger: createSilentLogger(), drainMs: 200, workers: 3 });
  cleanup.push(async () => {
    await stopEdgeProcess(edge.record, 10_000);
    rmSync(dataDir, { recursive: true, force: true });
  });
  return edge;
}

async function upstream(): Promise<number> {
  const started = await startUpstream();
  cleanup.push(
    () =>
      new Promise((resolve) =>
        started.server.close(() => {
          resolve();
        }),
      ),
  );
  return started.port;
}

/** One GET on a new connection (so the kernel picks a process for each): status and body. */
function fresh(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

async function sendFresh(port: number, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, count - i) }, () => fresh(port)));
    for (const r of batch) {
      expect(r.status).toBe(200);
      bodies.push(r.body);
    }
  }
  return bodies;
}

describe("edge workers", () => {
  it("spreads connections over the processes and merges their windows exactly", async () => {
    const edge = await startEdge();
    const state = await edge.client.state();
    expect(state.workers).toHaveLength(2);
    const pids = new Set([state.pid, ...(state.workers ?? []).map((w) => w.pid)]);
    expect(pids.size).toBe(3);

    const port = await findFreePort();
    await edge.client.put("production", { listen: `127.0.0.1:${port}`, routes: tableTo(await upstream()) });
    const since = Date.now() - 1;
    await sendFresh(port, 300);

    const window = await edge.client.stats("production", "web", "v1", since);
    expect(window.requests).toBe(300);
    expect(window.statusClasses["2xx"]).toBe(300);
    expect(window.errors).toBe(0);
    expect(window.partial).toBeUndefined();
    expect(window.latenciesMs).toHaveLength(300);
    const serving = (window.byProcess ?? []).filter((p) => p.requests > 0);
    console.log(`requests per router process: ${JSON.stringify(window.byProcess)}`);
    expect(serving.length).toBeGreaterThan(1);
    const sorted = [...window.latenciesMs].sort((a, b) => a - b);
    expect(window.p95).toBeGreaterThanOrEqual(sorted[0] ?? NaN);
    expect(window.p95).toBeLessThanOrEqual(sorted.at(-1) ?? NaN);

    const metrics = await edge.client.metrics();
    const ok = /slipway_router_requests_total\{[^}]*code_class="2xx"\} (\d+)/.exec(metrics);
    expect(Number(ok?.[1])).toBe(300);
    expect(metrics.match(/# TYPE slipway_router_requests_total/g)).toHaveLength(1);

    // A table change has reached every worker when the PUT answers: no connection sees the old one.
    const other = await startUpstream();
    other.server.removeAllListeners("request");
    other.server.on("request", (_req, res) => res.end("second"));
    cleanup.push(
      () =>
        new Promise((resolve) =>
          other.server.close(() => {
            resolve();
          }),
        ),
    );
    await edge.client.put("production", { listen: `127.0.0.1:${port}`, routes: tableTo(other.port) });
    expect(new Set(await sendFresh(port, 60))).toEqual(new Set(["second"]));
  }, 60_000);

  it("forks a worker killed with SIGKILL again while the others serve on", async () => {
    const edge = await startEdge();
    const port = await findFreePort();
    await edge.client.put("production", { listen: `127.0.0.1:${port}`, routes: tableTo(await upstream()) });
    const since = Date.now() - 1;
    const load = new SteadyLoad(port, 8);
    await waitFor(() => load.ok >= 300, { what: "load before the kill" });
    const before = await edge.client.stats("production", "web", "v1", since);
    const victim = (before.byProcess ?? []).find((p) => p.index > 0 && p.requests > 0);
    expect(victim?.pid).toBeDefined();
    process.kill(victim?.pid ?? 0, "SIGKILL");
    const okAtKill = load.ok;

    const replaced = await waitFor(
      async () => {
        const s = await edge.client.state();
        const slot = s.workers?.find((w) => w.index === victim?.index);
        return slot?.pid !== undefined && slot.pid !== victim?.pid && slot.restarts === 1 && slot;
      },
      { what: "the worker forked again" },
    );
    await waitFor(() => load.ok >= okAtKill + 300, { what: "load after the kill" });
    await load.stop();

    const after = await edge.client.stats("production", "web", "v1", since);
    expect(after.partial).toBe(true);
    expect(after.partialWorkers).toEqual([{ index: victim?.index, pid: replaced.pid, reason: "restarted" }]);
    console.log(
      `worker kill -9 under keep-alive load (8 connections): ${load.ok} ok, ${load.failed} failed, ` +
        `${load.retried} retried on a connection the dead worker held; failures ${JSON.stringify(load.failures)}`,
    );
    // Only the connections the dead worker held can fail (a GET on them is retried once, as clients do).
    expect(load.failed + load.retried).toBeLessThanOrEqual(8);
    expect(load.failed).toBe(0);
  }, 60_000);

  it("hands over to a new edge that forks its own workers; the old workers drain and exit", async () => {
    const edge = await startEdge();
    const port = await findFreePort();
    await edge.client.put("production", { listen: `127.0.0.1:${port}`, routes: tableTo(await upstream()) });
    const oldWorkers = ((await edge.client.state()).workers ?? []).map((w) => w.pid ?? 0);
    const load = new SteadyLoad(port, 4);
    await waitFor(() => load.ok >= 200, { what: "load before the upgrade" });
    const upgraded = await edge.client.upgrade();
    await waitFor(() => [edge.state.pid, ...oldWorkers].every((pid) => !alive(pid)), {
      what: "the old edge and its workers to exit",
    });
    const okAfter = load.ok;
    await waitFor(() => load.ok >= okAfter + 200, { what: "load after the upgrade" });
    await load.stop();
    const state = await edge.client.state();
    expect(state.pid).toBe(upgraded.pid);
    expect(state.workers?.map((w) => w.pid).filter((pid) => pid !== undefined && alive(pid))).toHaveLength(2);
    cleanup.push(() => stopEdgeProcess({ ...edge.record, pid: upgraded.pid, startTicks: undefined }, 10_000));
    console.log(
      `edge upgrade with workers: ${load.ok} ok, ${load.failed} failed, ${load.retried} retried; ` +
        `failures ${JSON.stringify(load.failures)}`,
    );
    // Known race (seen in 1 run of 4 on a loaded machine): a connection an old process accepted the
    // instant its router stops is closed as idle before its request is read, and the client's one retry
    // can meet the same race on another old process. Never a request the router had read.
    expect(load.failed).toBeLessThanOrEqual(1);
    for (const f of load.failures) expect(f.error).toMatch(/ECONNRESET|socket hang up/);
  }, 60_000);

  it("workers exit when the edge is killed, so a new edge can bind the port", async () => {
    const edge = await startEdge();
    const port = await findFreePort();
    await edge.client.put("production", { listen: `127.0.0.1:${port}`, routes: tableTo(await upstream()) });
    const workers = ((await edge.client.state()).workers ?? []).map((w) => w.pid ?? 0);
    process.kill(edge.state.pid, "SIGKILL");
    await waitFor(() => workers.every((pid) => !alive(pid)), { what: "the workers to exit" });
    // Nobody holds the listening socket any more: a new edge (here, a plain server) binds the port.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => probe.close(resolve));
  }, 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
