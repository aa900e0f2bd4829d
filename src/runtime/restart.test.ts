import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { InstanceProbe } from "./types.js";
import { createTestRuntime, isAlive, liveMembers, NODE, type TestRuntime } from "./test-fixtures.js";
import type { RestartPolicy } from "./types.js";

/** Tiny delays so a crash loop plays out in well under a second. */
const restart: RestartPolicy = { initialDelayMs: 10, maxDelayMs: 40, maxRestarts: 2, windowMs: 60_000 };

let runtime: TestRuntime;

afterEach(async () => {
  await runtime.cleanup();
});

describe("restarts", () => {
  it("restarts a crashed instance with backoff, then fails a crash loop with its last log lines", async () => {
    runtime = createTestRuntime({ random: () => 0.5 });
    const command = `echo "attempt $$ starting"; echo "config missing" >&2; exit 1`;
    const handle = await runtime.supervisor.start(runtime.spec({ command, restart }));
    const status = await handle.waitFor(() => false);
    expect(status).toMatchObject({ phase: "failed", reason: "crash-loop", restarts: 2, ready: false });
    expect(status.lastExit).toMatchObject({ code: 1, signal: null });
    expect(status.message).toMatch(/^crash loop: exited with code 1, 3 times within 1m; not restarting/);
    expect(status.message).toContain("stderr config missing");
    expect(status.message?.match(/stdout attempt \d+ starting/g)).toHaveLength(3);

    const mine = runtime.events.filter((e) => e.id === handle.id);
    const backoffs = mine.filter((e) => e.phase === "backoff" && e.message !== undefined);
    expect([...new Set(backoffs.map((e) => e.message))]).toEqual([
      "exited with code 1; restarting in 10ms",
      "exited with code 1; restarting in 20ms",
    ]);
    expect(mine.map((e) => e.restarts).at(-1)).toBe(2);
  });

  it("a command that exits at once ends in a crash loop whose reason carries its output", async () => {
    runtime = createTestRuntime();
    const command = `echo "error: cannot read config.yml" >&2; exit 78`;
    const handle = await runtime.supervisor.start(
      runtime.spec({ command, restart: { ...restart, maxRestarts: 0 } }),
    );
    const status = await handle.waitFor(() => false);
    expect(status).toMatchObject({ phase: "failed", reason: "crash-loop", restarts: 0 });
    expect(status.message).toContain("exited with code 78");
    expect(status.message).toContain("stderr error: cannot read config.yml");
  });

  it("restarts after a crash and becomes ready again", async () => {
    runtime = createTestRuntime();
    const readiness: InstanceProbe = {
      http: "/healthz",
      interval: "50ms",
      timeout: "1s",
      healthyAfter: 1,
      unhealthyAfter: 3,
      grace: "0s",
    };
    // Crashes 300 ms after start the first time only: the marker file survives the restart.
    const command = `if [ -f crashed ]; then exec ${NODE} app.mjs; else touch crashed; CRASH_AFTER_MS=300 exec ${NODE} app.mjs; fi`;
    const handle = await runtime.supervisor.start(runtime.spec({ command, restart, health: { readiness } }));
    const first = await handle.waitFor((s) => s.ready);
    const second = await handle.waitFor((s) => s.ready && s.restarts === 1);
    expect(second).toMatchObject({ phase: "ready", restarts: 1, port: first.port });
    expect(second.lastExit?.code).toBe(2);
    expect(second.pid).not.toBe(first.pid);
    expect(await runtime.supervisor.logs(second.id)).toContainEqual(
      expect.stringContaining("stderr crashing now"),
    );
  });

  it("leaves no grandchild behind when the instance crashes", async () => {
    runtime = createTestRuntime();
    // Each generation leaves a background sleeper and then crashes.
    const command = "sleep 1000 & echo $! >> bg.pids; sleep 0.2; exit 3";
    const handle = await runtime.supervisor.start(runtime.spec({ command, restart }));
    const leaders = new Set<number>();
    runtime.supervisor.on("state", (s) => s.pid !== undefined && leaders.add(s.pid));
    leaders.add(handle.status().pid!);
    const status = await handle.waitFor(() => false);
    expect(status).toMatchObject({ phase: "failed", reason: "crash-loop" });
    const sleepers = readFileSync(join(runtime.dir, "bg.pids"), "utf8").trim().split("\n").map(Number);
    expect(sleepers).toHaveLength(3);
    // Each generation's group was gone before the next started, and the last one before "failed".
    expect(sleepers.filter(isAlive)).toEqual([]);
    for (const leader of leaders) expect(await liveMembers(leader)).toEqual([]);
  });
});
