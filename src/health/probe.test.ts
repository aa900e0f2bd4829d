import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeSpec } from "./probe-spec.js";
import { startHealthMonitor } from "./monitor.js";
import { createProbe, type ProbeResult, type ProbeTarget } from "./probe.js";
import type { HealthState } from "./tracker.js";
import { waitFor } from "../test-support/wait-for.js";

function probeConfig(kind: Partial<ProbeSpec>, extra: Partial<ProbeSpec> = {}): ProbeSpec {
  return {
    intervalMs: 20,
    timeoutMs: 500,
    healthyAfter: 1,
    unhealthyAfter: 2,
    graceMs: 0,
    ...kind,
    ...extra,
  };
}

/** Alive means present and not a zombie (an orphan's zombie is PID 1's to reap, not ours). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\S+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const never = new AbortController().signal;
let dir: string;
let server: Server;
let target: ProbeTarget;
let healthy = true;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slipway-probe-"));
  server = createServer((req, res) => {
    if (req.url === "/hang") return; // never answers
    if (req.url === "/toggle") res.statusCode = healthy ? 200 : 503;
    else if (req.url === "/redirect") res.writeHead(302, { location: "/login" });
    else if (req.url === "/fail") res.statusCode = 500;
    res.end("body");
  });
  const port = await listen(server);
  target = { host: "127.0.0.1", port, cwd: dir, env: { PATH: "/usr/bin:/bin", PORT: String(port) } };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe("HTTP probe", () => {
  it("passes on 2xx and 3xx and fails on 5xx, saying which status it saw", async () => {
    const results = await Promise.all(
      ["/ok", "/redirect", "/fail"].map((http) => createProbe(probeConfig({ http }), target).check(never)),
    );
    expect(results.map((r) => [r.ok, r.detail])).toEqual([
      [true, "HTTP 200"],
      [true, "HTTP 302"],
      [false, "HTTP 500"],
    ]);
  });

  it("fails with a timeout when the instance hangs", async () => {
    const result = await createProbe(probeConfig({ http: "/hang" }, { timeoutMs: 200 }), target).check(never);
    expect(result).toMatchObject({ ok: false, detail: "timed out after 200ms" });
  });

  it("fails when nothing listens", async () => {
    const result = await createProbe(probeConfig({ http: "/" }), {
      ...target,
      port: await closedPort(),
    }).check(never);
    expect(result.ok).toBe(false);
    expect(result.detail).toContain("ECONNREFUSED");
  });

  it("ends at once when the caller aborts", async () => {
    const controller = new AbortController();
    const pending = createProbe(probeConfig({ http: "/hang" }, { timeoutMs: 3_600_000 }), target).check(
      controller.signal,
    );
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, detail: "aborted" });
  });
});

describe("TCP probe", () => {
  it("passes when the port accepts a connection and fails when it does not", async () => {
    const up = await createProbe(probeConfig({ tcp: true }), target).check(never);
    const down = await createProbe(probeConfig({ tcp: true }), { ...target, port: await closedPort() }).check(
      never,
    );
    expect([up.ok, down.ok]).toEqual([true, false]);
  });
});

describe("command probe", () => {
  it("passes on exit 0, runs in the instance's directory with its env, and reports output on failure", async () => {
    writeFileSync(join(dir, "marker"), "");
    const ok = await createProbe(
      probeConfig({ command: `test -f marker && test "$PORT" = ${target.port}` }),
      target,
    ).check(never);
    const bad = await createProbe(probeConfig({ command: "echo database down >&2; exit 3" }), target).check(
      never,
    );
    expect(ok).toMatchObject({ ok: true, detail: "exit 0" });
    expect(bad).toMatchObject({ ok: false, detail: "exit 3: database down" });
  });

  it("kills the whole process group of a command that times out", async () => {
    const command = "sleep 1000 & echo $! > bg.pid; sleep 1000";
    const result = await createProbe(probeConfig({ command }, { timeoutMs: 300 }), target).check(never);
    expect(result).toMatchObject({ ok: false, detail: "timed out after 300ms" });
    const background = Number(readFileSync(join(dir, "bg.pid"), "utf8"));
    await waitFor(() => !isAlive(background), { what: `background job ${background} to be gone` });
  });

  it("kills background jobs a passing command leaves behind", async () => {
    const result = await createProbe(
      probeConfig({ command: "sleep 1000 & echo $! > bg2.pid" }),
      target,
    ).check(never);
    expect(result.ok).toBe(true);
    const background = Number(readFileSync(join(dir, "bg2.pid"), "utf8"));
    await waitFor(() => !isAlive(background), { what: `background job ${background} to be gone` });
  });
});

describe("health monitor", () => {
  it("keeps probing for the target's whole life: healthy, unhealthy, healthy again", async () => {
    healthy = true;
    const states: HealthState[] = [];
    let wake: () => void = () => undefined;
    const monitor = startHealthMonitor({
      probe: createProbe(probeConfig({ http: "/toggle" }), target),
      config: probeConfig({ http: "/toggle" }),
      onChange: ({ to }) => {
        states.push(to);
        wake();
      },
    });
    const reach = async (count: number) => {
      while (states.length < count) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    };
    try {
      await reach(1);
      healthy = false;
      await reach(2);
      healthy = true;
      await reach(3);
      expect(states).toEqual(["healthy", "unhealthy", "healthy"]);
    } finally {
      monitor.stop();
      await monitor.done;
    }
  });

  it("does not count failures during grace, but a pass counts and ends the grace period", async () => {
    const results: { result: ProbeResult; counted: boolean }[] = [];
    const config = probeConfig({ http: "/fail" }, { graceMs: 3_600_000, unhealthyAfter: 1 });
    const monitor = startHealthMonitor({
      probe: createProbe(config, target),
      config,
      onChange: () => undefined,
      onResult: (result, counted) => results.push({ result, counted }),
    });
    await waitFor(() => results.length >= 3, { what: "three probe results" });
    monitor.stop();
    await monitor.done;
    expect(monitor.state).toBe("unknown");
    expect(results.every((r) => !r.counted)).toBe(true);

    const passing = probeConfig({ http: "/ok" }, { graceMs: 3_600_000 });
    let changed: HealthState | undefined;
    const second = startHealthMonitor({
      probe: createProbe(passing, target),
      config: passing,
      onChange: ({ to }) => (changed = to),
    });
    await waitFor(() => changed !== undefined, { what: "a health state change" });
    second.stop();
    await second.done;
    expect(changed).toBe("healthy");
  });
});
