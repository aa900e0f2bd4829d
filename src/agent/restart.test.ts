import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { InstanceStatus, PidRecord } from "../runtime/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { isPortFree } from "../util/index.js";
import { createAgentClient, type AgentClient } from "./client.js";
import { ensureBuilt, isProcessAlive, killGroup, TestWorld, type RunningAgent } from "./test-fixtures.js";
import type { AgentSnapshot } from "./types.js";

/**
 * Answers `<instance> <pid>`; /healthz is 503 while the file `unhealthy-<instance>` exists; /burst?tag=T
 * prints 200 lines "T line i"; with IGNORE_TERM it ignores SIGTERM (only SIGKILL ends it).
 */
const APP = `
import { createServer } from "node:http";
import { existsSync } from "node:fs";
const id = process.env.SLIPWAY_INSTANCE;
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/healthz") res.statusCode = existsSync("unhealthy-" + id) ? 503 : 200;
  if (url.pathname === "/burst") for (let i = 0; i < 200; i++) console.log(url.searchParams.get("tag") + " line " + i);
  res.end(id + " " + process.pid);
});
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => {
  if (process.env.IGNORE_TERM) return console.log("ignoring SIGTERM");
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
`;

let world: TestWorld;
const clients: AgentClient[] = [];
const strays: number[] = [];

beforeAll(() => {
  ensureBuilt();
}, 120_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const pid of strays.splice(0)) killGroup(pid);
  await world.cleanup();
});

function clientFor(agent: RunningAgent): AgentClient {
  const client = createAgentClient({ socketPath: agent.socketPath, token: agent.token });
  clients.push(client);
  return client;
}

function newWorld(): TestWorld {
  world = new TestWorld();
  writeFileSync(join(world.appDir, "adoptee.mjs"), APP);
  return world;
}

function spec(id: string, extra: { envVars?: Record<string, string>; stopTimeoutMs?: number } = {}) {
  return {
    id,
    service: "web",
    env: "production",
    release: "v1",
    command: "exec node adoptee.mjs",
    cwd: world.appDir,
    stopTimeoutMs: extra.stopTimeoutMs ?? 5_000,
    envVars: extra.envVars ?? {},
    health: { readiness: { http: "/healthz", interval: "100ms" } },
  };
}

const instanceDir = () => join(world.dataDir, "agent", "instances", "web", "production");
const logOf = (id: string) => readFileSync(join(instanceDir(), `${id}.log`), "utf8");
const linesTagged = (id: string, tag: string) =>
  (logOf(id).match(new RegExp(`stdout ${tag} line`, "g")) ?? []).length;
const pidRecord = (id: string) =>
  JSON.parse(readFileSync(join(instanceDir(), `${id}.pid`), "utf8")) as PidRecord;

async function burst(port: number, tag: string): Promise<void> {
  expect((await fetch(`http://127.0.0.1:${port}/burst?tag=${tag}`)).status).toBe(200);
}

async function readyInstances(client: AgentClient, count: number): Promise<InstanceStatus[]> {
  const state = await waitFor(
    async () => {
      const s = await client.state();
      return s.instances.length === count && s.instances.every((i) => i.ready) && s;
    },
    { what: `${count} ready instances`, timeoutMs: 30_000 },
  );
  for (const i of state.instances) world.instancePids.add(i.pid!);
  return [...state.instances].sort((x, y) => x.id.localeCompare(y.id));
}

async function agentWithTwo(): Promise<{ agent: RunningAgent; before: InstanceStatus[] }> {
  const agent = await newWorld().startAgent();
  const client = clientFor(agent);
  await client.startInstance(spec("web-v1-a"));
  await client.startInstance(spec("web-v1-b"));
  return { agent, before: await readyInstances(client, 2) };
}

/** What a new agent must show after adopting both: same pids, ready at once, output and probes flowing. */
async function expectAdopted(before: InstanceStatus[]): Promise<void> {
  const client = clientFor(await world.startAgent());
  const after = [...(await client.state()).instances].sort((x, y) => x.id.localeCompare(y.id));
  expect(after.map((i) => [i.id, i.pid, i.port, i.ready])).toEqual(
    before.map((i) => [i.id, i.pid, i.port, true]),
  );
  for (const i of after) expect(i.adoptedAt).toBeDefined();
  const [a] = after;
  // Written while no agent read: waited in the FIFO, and reaches the same log file.
  await waitFor(() => linesTagged(a!.id, "down") === 200, { what: "the lines written while down" });
  await burst(a!.port, "back");
  await waitFor(() => linesTagged(a!.id, "back") === 200, { what: "new lines in the same log" });
  // Probes run again: a failing readiness takes it out of rotation, a passing one puts it back.
  writeFileSync(join(world.appDir, `unhealthy-${a!.id}`), "");
  await waitFor(
    async () => (await client.state()).instances.find((i) => i.id === a!.id)?.phase === "unready",
    {
      what: "readiness to fail",
    },
  );
  rmSync(join(world.appDir, `unhealthy-${a!.id}`));
  const ready = await readyInstances(client, 2);
  expect(ready.map((i) => i.pid)).toEqual(before.map((i) => i.pid));
}

describe("agent restart: adopt, not restart", () => {
  it("adopts both instances after kill -9 of the agent: same pids, no line lost, probes resume", async () => {
    const { agent, before } = await agentWithTwo();
    agent.child.kill("SIGKILL");
    await agent.exited;
    await burst(before[0]!.port, "down");
    await expectAdopted(before);
  }, 90_000);

  it("leaves instances running on SIGUSR2 (restart stop), and the next agent adopts them", async () => {
    const { agent, before } = await agentWithTwo();
    agent.child.kill("SIGUSR2");
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    for (const i of before) expect(isProcessAlive(i.pid!)).toBe(true);
    await burst(before[0]!.port, "down");
    await expectAdopted(before);
  }, 90_000);

  it("starts again (new pid) an instance that died while no agent ran, and adopts the other", async () => {
    const { agent, before } = await agentWithTwo();
    agent.child.kill("SIGKILL");
    await agent.exited;
    const [a, b] = before;
    killGroup(a!.pid);
    await waitFor(() => !isProcessAlive(a!.pid!), { what: "instance a to die" });
    const client = clientFor(await world.startAgent());
    const after = await readyInstances(client, 2);
    expect(after[0]).toMatchObject({ id: a!.id, port: a!.port });
    expect(after[0]!.pid).not.toBe(a!.pid);
    expect(after[0]!.adoptedAt).toBeUndefined();
    expect(after[1]).toMatchObject({ id: b!.id, pid: b!.pid });
  }, 90_000);

  it("never signals a process that reused a recorded pid; the stale record is replaced", async () => {
    const { agent, before } = await agentWithTwo();
    agent.child.kill("SIGKILL");
    await agent.exited;
    const a = before[0]!;
    killGroup(a.pid);
    await waitFor(() => !isProcessAlive(a.pid!), { what: "instance a to die" });
    const stranger = spawn("sleep", ["1000"], { detached: true, stdio: "ignore" });
    strays.push(stranger.pid!);
    // The stranger has the pid now, but not the recorded start time.
    const record = pidRecord(a.id);
    writeFileSync(join(instanceDir(), `${a.id}.pid`), JSON.stringify({ ...record, pid: stranger.pid }));

    const client = clientFor(await world.startAgent());
    const after = await readyInstances(client, 2);
    expect(isProcessAlive(stranger.pid!)).toBe(true);
    expect(after[0]!.pid).not.toBe(stranger.pid);
    expect(pidRecord(a.id).pid).toBe(after[0]!.pid);
  }, 90_000);

  it("SIGKILLs an orphan that ignores SIGTERM and is no longer wanted, and frees its port", async () => {
    const agent = await newWorld().startAgent();
    const client = clientFor(agent);
    const stubborn = spec("web-v1-c", { envVars: { IGNORE_TERM: "1" }, stopTimeoutMs: 500 });
    await client.startInstance(stubborn);
    await client.startInstance(spec("web-v1-d"));
    const [c, d] = await readyInstances(client, 2);
    agent.child.kill("SIGKILL");
    await agent.exited;
    // While no agent ran, the control plane's wish changed: c is gone from the snapshot.
    const path = join(world.dataDir, "agent", "state.json");
    const snapshot = JSON.parse(readFileSync(path, "utf8")) as AgentSnapshot;
    writeFileSync(
      path,
      JSON.stringify({ ...snapshot, instances: snapshot.instances.filter((i) => i.id !== c!.id) }),
    );

    const next = clientFor(await world.startAgent());
    expect((await next.state()).instances.map((i) => [i.id, i.pid])).toEqual([[d!.id, d!.pid]]);
    expect(isProcessAlive(c!.pid!)).toBe(false);
    expect(await isPortFree(c!.port)).toBe(true);
    expect(existsSync(join(instanceDir(), `${c!.id}.pid`))).toBe(false);
  }, 90_000);
});
