import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../test-support/wait-for.js";
import { findCgroupRoot } from "./instance-scope.js";
import { cleanStaleRecord } from "./leftover.js";
import { isRecordLive, readPidFiles, recordMatchesSpec, type PidRecord } from "./pid-file.js";
import { createSupervisor } from "./supervisor.js";
import {
  APP_COMMAND,
  createTestRuntime,
  get,
  isAlive,
  killGroup,
  type TestRuntime,
} from "./test-fixtures.js";
import type { InstanceProbe, Supervisor } from "./types.js";

const readiness: InstanceProbe = {
  http: "/healthz",
  interval: "50ms",
  timeout: "1s",
  healthyAfter: 1,
  unhealthyAfter: 2,
  grace: "0s",
};

let runtime: TestRuntime;
const others: Supervisor[] = [];
const strays: number[] = [];

afterEach(async () => {
  await Promise.all(others.splice(0).map((s) => s.shutdown({ stopInstances: true })));
  for (const pid of strays.splice(0)) killGroup(pid);
  await runtime.cleanup();
});

function logOf(id: string): string {
  return readFileSync(join(runtime.logDir, "web", "test", `${id}.log`), "utf8");
}

async function onlyRecord(): Promise<PidRecord> {
  const records = await readPidFiles(runtime.logDir);
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe("adoption by a new supervisor", () => {
  it("keeps the pid and readiness, reads what was written while nobody read, and restarts it when it dies", async () => {
    runtime = createTestRuntime();
    const spec = runtime.spec({ health: { readiness } });
    const first = await runtime.supervisor.start(spec);
    const { pid, port } = await first.waitFor((s) => s.ready);
    strays.push(pid!);
    await runtime.supervisor.shutdown({ stopInstances: false });
    // Written while no agent reads: it waits in the FIFO.
    for (let i = 0; i < 3; i++) expect((await get(`http://127.0.0.1:${port}/hello`)).status).toBe(200);
    const record = await onlyRecord();
    expect(record).toMatchObject({ pid, port, ready: true });
    expect(await isRecordLive(record)).toBe(true);
    expect(recordMatchesSpec(record, { ...spec, port })).toBe(true);
    expect(recordMatchesSpec(record, { ...spec, port, envVars: { CHANGED: "1" } })).toBe(false);

    const next = createSupervisor({ logDir: runtime.logDir });
    others.push(next);
    const seen: boolean[] = [];
    next.on("state", (s) => seen.push(s.ready));
    const handle = await next.adopt({ ...spec, port }, record);
    expect(handle.status()).toMatchObject({ pid, port, phase: "ready", ready: true });
    expect(handle.status().adoptedAt).toBeDefined();
    await waitFor(() => (logOf(spec.id).match(/stdout hello from/g) ?? []).length === 3, {
      what: "the buffered lines in the log",
    });
    expect(await get(`http://127.0.0.1:${port}/hello`)).toMatchObject({ status: 200 });
    await waitFor(() => (logOf(spec.id).match(/stdout hello from/g) ?? []).length === 4, {
      what: "a new line in the log",
    });
    expect(seen).not.toContain(false); // never out of rotation because of the adoption

    // Not our child: its death is seen by polling and EOF, and it is a crash like any other.
    killGroup(pid!);
    const restarted = await handle.waitFor((s) => s.ready && s.pid !== pid);
    expect(restarted).toMatchObject({ restarts: 1, lastExit: { code: null, signal: null } });
    expect(restarted.adoptedAt).toBeUndefined();
    expect(logOf(spec.id)).toContain("exited (adopted: exit status unknown)");
  });
});

describe.each(["auto", "process-group"] as const)("tracking: %s", (tracking) => {
  it("stops a grandchild that setsid'd out of the instance's process group with the instance", async () => {
    runtime = createTestRuntime({ tracking });
    const command = `setsid sleep 1000 & echo $! > grandchild.pid; exec ${APP_COMMAND}`;
    const handle = await runtime.supervisor.start(runtime.spec({ command }));
    const { pid } = await handle.waitFor((s) => s.ready);
    const grandchild = await waitFor(
      () => Number(readFileSync(join(runtime.dir, "grandchild.pid"), "utf8")),
      {
        what: "the grandchild's pid",
      },
    );
    strays.push(grandchild);
    // $! is written before the background shell has run setsid: wait for it to be out of the group.
    const sessionOf = (p: number) =>
      Number(readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[3]);
    await waitFor(() => sessionOf(grandchild) !== pid, { what: "the grandchild to leave the session" });
    const cgroups = tracking === "auto" && (await findCgroupRoot()) !== undefined;
    expect(await runtime.supervisor.tracking()).toBe(cgroups ? "cgroup" : "process-group");
    await handle.stop();
    expect(isAlive(grandchild)).toBe(false);
  });

  it("cleans a stale record: kills what its dead leader left (setsid'd away), never a process that reused the pid", async () => {
    runtime = createTestRuntime({ tracking });
    const command = `setsid sleep 1000 & echo $! > grandchild.pid; exec ${APP_COMMAND}`;
    const handle = await runtime.supervisor.start(runtime.spec({ command, stopTimeoutMs: 200 }));
    const { pid } = await handle.waitFor((s) => s.ready);
    strays.push(pid!);
    const grandchild = await waitFor(
      () => Number(readFileSync(join(runtime.dir, "grandchild.pid"), "utf8")),
      {
        what: "the grandchild's pid",
      },
    );
    strays.push(grandchild);
    await runtime.supervisor.shutdown({ stopInstances: false });
    const record = await onlyRecord();
    process.kill(pid!, "SIGKILL");
    await waitFor(async () => !(await isRecordLive(record)), { what: "the record to go stale" });
    expect(isAlive(grandchild)).toBe(true);

    const stranger = spawn("sleep", ["1000"], { detached: true, stdio: "ignore" });
    strays.push(stranger.pid!);
    const reused: PidRecord = {
      ...record,
      pid: stranger.pid!,
      startTicks: 1,
      scopeToken: "not-ours",
      cgroup: undefined,
    };
    expect(await isRecordLive(reused)).toBe(false);
    await cleanStaleRecord(reused);
    expect(isAlive(stranger.pid!)).toBe(true);

    await cleanStaleRecord(record);
    expect(isAlive(grandchild)).toBe(false);
    expect(await readPidFiles(runtime.logDir)).toEqual([]);
  });
});
