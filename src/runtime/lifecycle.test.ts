import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../test-support/wait-for.js";
import { SlipwayError } from "../util/index.js";
import { isRecordLive, readPidFiles } from "./pid-file.js";
import {
  APP_COMMAND,
  createTestRuntime,
  get,
  isAlive,
  killGroup,
  liveMembers,
  type TestRuntime,
} from "./test-fixtures.js";
import type { InstanceProbe } from "./types.js";

const readiness: InstanceProbe = {
  http: "/healthz",
  interval: "50ms",
  timeout: "1s",
  healthyAfter: 1,
  unhealthyAfter: 2,
  grace: "0s",
};

let runtime: TestRuntime;
const adopted: number[] = [];

afterEach(async () => {
  await runtime.cleanup();
  for (const pid of adopted.splice(0)) killGroup(pid);
});

describe("supervisor lifecycle", () => {
  it("starts an instance that becomes ready via HTTP readiness, with PORT and SLIPWAY_* but not the agent's env", async () => {
    runtime = createTestRuntime();
    process.env.SLIPWAY_TEST_AGENT_SECRET = "must-not-leak";
    try {
      const handle = await runtime.supervisor.start(
        runtime.spec({ release: "v7", envVars: { GREETING: "hi" }, health: { readiness } }),
      );
      expect(["running", "ready"]).toContain(handle.status().phase);
      const status = await handle.waitFor((s) => s.ready);
      expect(status).toMatchObject({ phase: "ready", ready: true, release: "v7", restarts: 0 });
      const env = JSON.parse((await get(`http://127.0.0.1:${status.port}/env`)).body) as Record<
        string,
        string
      >;
      expect(env).toMatchObject({
        PORT: String(status.port),
        GREETING: "hi",
        SLIPWAY_RELEASE: "v7",
        SLIPWAY_SERVICE: "web",
        SLIPWAY_ENV: "test",
      });
      expect(env.SLIPWAY_TEST_AGENT_SECRET).toBeUndefined();
      expect(runtime.events.map((e) => e.phase)).toContain("running");
    } finally {
      delete process.env.SLIPWAY_TEST_AGENT_SECRET;
    }
  });

  it("assigns each instance its own free port and lists them", async () => {
    runtime = createTestRuntime();
    const a = await runtime.supervisor.start(runtime.spec());
    const b = await runtime.supervisor.start(runtime.spec());
    expect(a.status().port).not.toBe(b.status().port);
    expect(runtime.supervisor.list().map((s) => s.id)).toEqual([a.id, b.id]);
    expect(runtime.supervisor.get(a.id)?.phase).toBe("ready");
  });

  it("writes stdout and stderr to the log with timestamps and stream names; tails and follows it", async () => {
    runtime = createTestRuntime();
    const handle = await runtime.supervisor.start(runtime.spec({ health: { readiness } }));
    const { port } = await handle.waitFor((s) => s.ready);
    await waitFor(
      async () => (await runtime.supervisor.logs(handle.id)).some((l) => l.includes("listening")),
      { what: "the listening line in the log", timeoutMs: 20_000 },
    );
    const lines = await runtime.supervisor.logs(handle.id, { tailLines: 50 });
    const iso = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${iso} stdout listening on ${port}$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${iso} stderr an error line$`)));
    expect(lines[0]).toMatch(new RegExp(`^${iso} slipway started pid \\d+ on port ${port}`));
    expect(await runtime.supervisor.logs(handle.id, { tailLines: 1 })).toHaveLength(1);

    const controller = new AbortController();
    const followed: string[] = [];
    const following = (async () => {
      for await (const line of runtime.supervisor.follow(handle.id, {
        tailLines: 2,
        signal: controller.signal,
      })) {
        followed.push(line);
        if (line.includes("hello from")) controller.abort();
      }
    })();
    await waitFor(() => followed.length >= 2, { what: "the tail to arrive", timeoutMs: 20_000 });
    await get(`http://127.0.0.1:${port}/hello`);
    await following;
    expect(followed.at(-1)).toContain("stdout hello from");
  });

  it("rotates the log by size and keeps only `keep` old files", async () => {
    runtime = createTestRuntime({ log: { maxBytes: 2_000, keep: 2 } });
    const handle = await runtime.supervisor.start(runtime.spec({ envVars: { LOG_LINES: "300" } }));
    const dir = join(runtime.logDir, "web", "test");
    await waitFor(
      async () => (await runtime.supervisor.logs(handle.id)).some((l) => l.includes("filler line 299")),
      { what: "filler line 299 in the log", timeoutMs: 20_000 },
    );
    const files = readdirSync(dir)
      .filter((f) => f.startsWith(`${handle.id}.log`))
      .sort();
    expect(files).toEqual([`${handle.id}.log`, `${handle.id}.log.1`, `${handle.id}.log.2`]);
    for (const file of files) expect(statSync(join(dir, file)).size).toBeLessThanOrEqual(2_000);
    expect(readFileSync(join(dir, `${handle.id}.log.1`), "utf8")).toMatch(/ stdout filler line \d+ x+\n$/);
  });

  it("stops gracefully: the app's SIGTERM handler runs and nothing is left", async () => {
    runtime = createTestRuntime();
    const handle = await runtime.supervisor.start(runtime.spec({ health: { readiness } }));
    const { pid } = await handle.waitFor((s) => s.ready);
    const pidFile = join(runtime.logDir, "web", "test", `${handle.id}.pid`);
    expect(existsSync(pidFile)).toBe(true);
    const followed: string[] = [];
    const following = (async () => {
      for await (const line of runtime.supervisor.follow(handle.id, { tailLines: 0 })) followed.push(line);
    })();
    await runtime.supervisor.stop(handle.id);
    await following; // a follower ends when its instance is stopped
    expect(followed.at(-1)).toMatch(/ slipway stopped$/);
    expect(handle.status()).toMatchObject({ phase: "stopped", reason: "stop-requested", ready: false });
    // The app is the shell's child (sh may or may not exec it): the signal went to the whole group.
    expect(existsSync(join(runtime.dir, "terminated"))).toBe(true);
    await expect(runtime.supervisor.logs(handle.id)).rejects.toMatchObject({ code: "not_found" }); // removed
    const log = readFileSync(join(runtime.logDir, "web", "test", `${handle.id}.log`), "utf8");
    // The leader is `sh`, which has no SIGTERM handler: it may die of the signal while the app exits 0.
    expect(log).toMatch(
      /stdout got SIGTERM, shutting down\n.* slipway (exited with code 0|killed by SIGTERM)\n/,
    );
    expect(log).toMatch(/ slipway stopped\n$/);
    expect(await liveMembers(pid!)).toEqual([]);
    expect(existsSync(pidFile)).toBe(false);
    expect(runtime.supervisor.get(handle.id)).toBeUndefined();
    await runtime.supervisor.stop(handle.id); // stopping twice is fine
  });

  it("SIGKILLs an instance that ignores SIGTERM once stopTimeoutMs has passed", async () => {
    runtime = createTestRuntime();
    const spec = runtime.spec({ envVars: { IGNORE_TERM: "1" }, stopTimeoutMs: 300, health: { readiness } });
    const handle = await runtime.supervisor.start(spec);
    const { pid } = await handle.waitFor((s) => s.ready);
    await handle.stop();
    expect(handle.status()).toMatchObject({ phase: "stopped", reason: "stop-timeout" });
    expect(handle.status().message).toContain("killed");
    expect(isAlive(pid!)).toBe(false);
    const log = readFileSync(join(runtime.logDir, "web", "test", `${handle.id}.log`), "utf8");
    expect(log).toContain("ignoring SIGTERM");
  });

  it("leaves no grandchild behind after stop", async () => {
    runtime = createTestRuntime();
    const command = "sleep 1000 & echo $! > bg.pid; sleep 1000";
    const handle = await runtime.supervisor.start(runtime.spec({ command }));
    const pid = handle.status().pid!;
    await waitFor(() => existsSync(join(runtime.dir, "bg.pid")), {
      what: "the background job to start",
      timeoutMs: 20_000,
    });
    const background = Number(readFileSync(join(runtime.dir, "bg.pid"), "utf8"));
    expect(await liveMembers(pid)).toContain(background);
    await handle.stop();
    expect(await liveMembers(pid)).toEqual([]);
    expect(isAlive(background)).toBe(false);
  });

  it("refuses a run directory that does not exist, naming it", async () => {
    runtime = createTestRuntime();
    const cwd = join(runtime.dir, "no-such-release");
    const error = await runtime.supervisor.start(runtime.spec({ cwd })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlipwayError);
    expect(error).toMatchObject({ code: "invalid_request", message: `run directory ${cwd} does not exist` });
    expect(runtime.supervisor.list()).toEqual([]);
  });

  it("refuses a health probe it could not run, before spawning anything", async () => {
    runtime = createTestRuntime();
    const liveness = { ...readiness, interval: "5 minutes" };
    await expect(runtime.supervisor.start(runtime.spec({ health: { liveness } }))).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("health.liveness: expected a duration") as unknown,
    });
    expect(runtime.events).toEqual([]);
  });

  it("fails fast with port-in-use when the given port is taken", async () => {
    runtime = createTestRuntime();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const handle = await runtime.supervisor.start(runtime.spec({ port }));
      expect(handle.status()).toMatchObject({ phase: "failed", reason: "port-in-use", pid: undefined });
      expect(handle.status().message).toContain(`port ${port}`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("refuses a second instance with the same id", async () => {
    runtime = createTestRuntime();
    const spec = runtime.spec();
    await runtime.supervisor.start(spec);
    await expect(runtime.supervisor.start(spec)).rejects.toMatchObject({ code: "already_exists" });
  });

  it("shutdown without stopping leaves the process running, serving and logging, with its pid file", async () => {
    runtime = createTestRuntime();
    const handle = await runtime.supervisor.start(
      runtime.spec({ command: APP_COMMAND, health: { readiness } }),
    );
    const { pid, port } = await handle.waitFor((s) => s.ready);
    adopted.push(pid!);
    await runtime.supervisor.shutdown({ stopInstances: false });
    expect(runtime.supervisor.list()).toEqual([]);
    // Its stdout has no reader now; it must neither die of SIGPIPE nor stop answering.
    for (let i = 0; i < 20; i++) expect((await get(`http://127.0.0.1:${port}/hello`)).status).toBe(200);
    expect(isAlive(pid!)).toBe(true);
    const [record] = await readPidFiles(runtime.logDir);
    expect(record).toMatchObject({ id: handle.id, pid, port, service: "web", env: "test" });
    expect(await isRecordLive(record!)).toBe(true);
    await expect(runtime.supervisor.start(runtime.spec())).rejects.toMatchObject({ code: "not_running" });
  });
});
