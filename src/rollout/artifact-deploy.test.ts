/**
 * `POST /api/v1/deploys` with artifacts a hostile or careless user could name, on a real control plane
 * and agent: every refusal is a coded problem (never a 500), nothing reaches the release store, and a
 * stop of the control plane in the middle of a large copy returns promptly and leaves nothing behind.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Problem } from "../api/index.js";
import { openStore } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { DeliveryWorld } from "./test-fixtures.js";

describe("deploy artifacts (agent + control plane in process, SQLite)", () => {
  let world: DeliveryWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  function releaseStore(w: DeliveryWorld): string[] {
    const dir = join(w.dataDir, "releases");
    return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
  }

  const deploy = (w: DeliveryWorld, artifact: string) =>
    w.call("POST", "/api/v1/deploys", { service: "web", env: "production", version: "v1", artifact });

  it("refuses system trees, the data directory, escaping links and FIFOs with a coded 4xx, storing nothing", async () => {
    const w = (world = await new DeliveryWorld().start({ rollout: "{ strategy: rolling }" }));
    const escaping = w.artifact("escaping");
    symlinkSync("../../../../etc/passwd", join(escaping, "passwd"));
    const fifo = w.artifact("fifo");
    execFileSync("mkfifo", [join(fifo, "control.pipe")]);
    const cases: [string, number, string][] = [
      ["/proc/self/fdinfo", 400, "artifact_refused"],
      ["/", 400, "artifact_refused"],
      ["/etc", 400, "artifact_refused"],
      [w.dataDir, 400, "artifact_refused"],
      [w.root, 400, "artifact_refused"],
      [escaping, 400, "artifact_invalid"],
      [fifo, 400, "artifact_invalid"],
    ];
    for (const [artifact, status, code] of cases) {
      const startedAt = Date.now();
      const res = await deploy(w, artifact);
      const problem = res.body as Problem;
      expect({ artifact, status: res.status, code: problem.code }).toEqual({ artifact, status, code });
      expect(problem.detail).toContain(artifact);
      expect(Date.now() - startedAt).toBeLessThan(5_000);
    }
    expect(releaseStore(w)).toEqual([]);
    expect(await w.api("GET", "/api/v1/services/web/releases")).toEqual([]);
    expect(await w.api("GET", "/api/v1/rollouts")).toEqual([]);
  });

  it("a stop in the middle of copying a large artifact returns promptly and leaves no temporary copy", async () => {
    const w = (world = await new DeliveryWorld().start({ rollout: "{ strategy: rolling }" }));
    const big = w.artifact("big");
    const chunk = "x".repeat(64 * 1024);
    // About 190 MB in 3,000 files: seconds of copying on this machine, far more than the stop may take.
    for (let d = 0; d < 30; d += 1) {
      mkdirSync(join(big, `d${d}`));
      for (let f = 0; f < 100; f += 1) writeFileSync(join(big, `d${d}`, `f${f}`), chunk);
    }
    const answer = deploy(w, big).catch((err: unknown) => err);
    const service = join(w.dataDir, "releases", "web");
    // Polled often: the stop must land while the copy is still early.
    await waitFor(() => existsSync(service) && readdirSync(service).some((n) => n.startsWith(".tmp-")), {
      what: "the copy to start (a .tmp- directory under releases/web)",
      timeoutMs: 20_000,
      intervalMs: 2,
    });
    const stopAt = Date.now();
    await w.server.stop();
    const stopMs = Date.now() - stopAt;
    console.info(`server stop during a 190 MB artifact copy took ${stopMs} ms`);
    expect(stopMs).toBeLessThan(3_000);
    const res = (await answer) as { status?: number; body?: Problem };
    // The request in flight gets its answer before the listener closes.
    expect(res.status).toBe(503);
    expect(res.body?.code).toBe("server_stopping");
    expect(releaseStore(w)).toEqual([]);
    const store = await openStore({ dataDir: w.dataDir, databaseUrl: undefined });
    try {
      expect(await store.delivery.listReleases("web")).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
