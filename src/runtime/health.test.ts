import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { InstanceProbe } from "./types.js";
import { waitFor } from "../test-support/wait-for.js";
import { createTestRuntime, type TestRuntime } from "./test-fixtures.js";
import type { InstanceStatus, RestartPolicy } from "./types.js";

const restart: RestartPolicy = { initialDelayMs: 10, maxDelayMs: 40, maxRestarts: 5, windowMs: 60_000 };

function probe(http: string, extra: Partial<InstanceProbe> = {}): InstanceProbe {
  return { http, interval: "30ms", timeout: "1s", healthyAfter: 1, unhealthyAfter: 2, grace: "0s", ...extra };
}

let runtime: TestRuntime;

afterEach(async () => {
  await runtime.cleanup();
});

describe("health checks on instances", () => {
  it("restarts an instance whose liveness probe fails unhealthyAfter times", async () => {
    runtime = createTestRuntime();
    // Grace: no restart while the app boots (connection refused); its first pass ends the grace period.
    const liveness = probe("/live", { grace: "1m" });
    const spec = runtime.spec({ restart, health: { readiness: probe("/healthz"), liveness } });
    const handle = await runtime.supervisor.start(spec);
    const first = await handle.waitFor((s) => s.ready);
    // Only after a first pass do failures count (grace); fail it from then on.
    await waitFor(() => existsSync(join(runtime.dir, "live-passed")), {
      what: "liveness to pass once",
      timeoutMs: 20_000,
    });
    writeFileSync(join(runtime.dir, "live"), "fail");

    const killed = await handle.waitFor((s) => s.reason === "liveness-failed");
    expect(killed).toMatchObject({ ready: false, reason: "liveness-failed" });
    expect(killed.message).toMatch(/^liveness probe failed 2 times in a row: HTTP 500/);
    rmSync(join(runtime.dir, "live"));

    const again = await handle.waitFor((s) => s.ready && s.restarts >= 1);
    expect(again.pid).not.toBe(first.pid);
    expect(again.port).toBe(first.port);
    const log = await runtime.supervisor.logs(handle.id);
    expect(log).toContainEqual(
      expect.stringMatching(/slipway killed after failing its liveness probe; restarting/),
    );
  });

  it("takes an instance out of rotation while readiness fails and back when it passes, without restarting it", async () => {
    runtime = createTestRuntime();
    const spec = runtime.spec({ restart, health: { readiness: probe("/healthz") } });
    const handle = await runtime.supervisor.start(spec);
    const ready = await handle.waitFor((s) => s.ready);
    const seen: InstanceStatus[] = [];
    runtime.supervisor.on("state", (s) => seen.push(s));

    writeFileSync(join(runtime.dir, "health"), "fail");
    const unready = await handle.waitFor((s) => !s.ready);
    expect(unready).toMatchObject({ phase: "unready", reason: "readiness-failed", pid: ready.pid });
    expect(unready.message).toContain("HTTP 503");

    writeFileSync(join(runtime.dir, "health"), "ok");
    const back = await handle.waitFor((s) => s.ready);
    expect(back).toMatchObject({ phase: "ready", restarts: 0, pid: ready.pid });

    writeFileSync(join(runtime.dir, "health"), "fail");
    await handle.waitFor((s) => !s.ready);
    expect(seen.map((s) => s.ready)).toEqual([false, true, false]);
  });

  it("keeps an instance whose readiness never passes running but out of rotation", async () => {
    runtime = createTestRuntime();
    writeFileSync(join(runtime.dir, "health"), "fail");
    const handle = await runtime.supervisor.start(
      runtime.spec({ restart, health: { readiness: probe("/healthz") } }),
    );
    const status = await handle.waitFor((s) => s.phase === "unready");
    expect(status).toMatchObject({ ready: false, restarts: 0, reason: "readiness-failed" });
    expect(status.pid).toBe(handle.status().pid);
  });
});
