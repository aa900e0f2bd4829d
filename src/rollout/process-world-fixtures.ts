/**
 * A delivery world of real processes, shared by the durability test (through process-fixtures.ts) and
 * the rollout benchmarks (bench/lib/zero-downtime.ts, bench/lib/bad-canary.ts): the built node agent
 * (`dist/agent/main.js`) and the built control plane (`dist/cli/main.js server`) as child processes,
 * each the leader of its own process group, a config applied through the API, an artifact written per
 * version (the app's behaviour comes from behaviour.json, as in test-fixtures.ts), deploys and rollouts
 * through the API, and the control plane killed with SIGKILL and started again on the same data
 * directory while the agent goes on serving.
 *
 * Cleanup leaves nothing behind: `stop()` sends SIGTERM to the control plane and to the agent (which
 * stops its instances), SIGKILL to any group still alive after that, and SIGKILL to every instance
 * group a pid file still names. If this process exits without `stop()`, an exit hook does the SIGKILL
 * part synchronously.
 *
 * A fixture, so not in dist/: tests run it from src/, the benchmarks from their own build (dist-bench/,
 * tsconfig.bench.json). Both spawn the repository's dist/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  type Dirent,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent as HttpAgent, request } from "undici";
import type { InstanceStatus } from "../runtime/index.js";
import type { Rollout, RolloutStatus, StoredVerdict } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import type { SlotView } from "./controller.js";
import type { RolloutState } from "./types.js";

/**
 * The repository root: the nearest directory above this file with a package.json. Walked up rather
 * than a fixed `../../`, because this file runs from src/rollout (tests) and from
 * dist-bench/src/rollout (benchmarks).
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("no package.json above the process-world fixture");
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = findRoot();
/** The repository's dist/, which `npm run build` fills. */
export const AGENT_MAIN = join(REPO_ROOT, "dist/agent/main.js");
export const CLI_MAIN = join(REPO_ROOT, "dist/cli/main.js");

const START_TIMEOUT_MS = 20_000;

/**
 * The service every world deploys. `startDelayMs` holds the listen back, so an instance stays
 * unready for that long (a slow start, to catch a rollout while its instances start).
 */
const APP = `
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
const b = JSON.parse(readFileSync("behaviour.json", "utf8"));
if (b.crash) { console.error("boom: this release cannot start"); process.exit(1); }
const server = createServer((req, res) => {
  if (req.url === "/healthz") { res.statusCode = b.unhealthy ? 500 : 200; res.end("ok"); return; }
  const answer = () => {
    if (Math.random() < (b.failRate ?? 0)) { res.statusCode = 500; res.end("fail"); return; }
    res.end(process.env.SLIPWAY_RELEASE);
  };
  if (b.hang) return;
  if (b.delayMs) setTimeout(answer, b.delayMs); else answer();
});
const listen = () => server.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening on " + process.env.PORT));
if (b.startDelayMs) setTimeout(listen, b.startDelayMs); else listen();
process.on("SIGTERM", () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

export interface Behaviour {
  failRate?: number;
  delayMs?: number;
  /** Milliseconds before the app listens (it is not ready until then). */
  startDelayMs?: number;
  crash?: boolean;
  unhealthy?: boolean;
  hang?: boolean;
  /** The app ignores SIGTERM (so only the stop timeout's SIGKILL ends it). */
  ignoreTerm?: boolean;
}

/** The test app's source for a behaviour (its other switches are read from behaviour.json at start). */
export function testAppSource(behaviour: Behaviour): string {
  return behaviour.ignoreTerm === true
    ? APP.replace('process.on("SIGTERM", () => {', 'process.on("SIGTERM", () => { return;')
    : APP;
}

/** `<root>/artifacts/<version>/`: the test app and its behaviour, ready to deploy. */
export function writeTestArtifact(root: string, version: string, behaviour: Behaviour): string {
  const dir = join(root, "artifacts", version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "app.mjs"), testAppSource(behaviour));
  writeFileSync(join(dir, "behaviour.json"), JSON.stringify(behaviour));
  return dir;
}

export interface ProcessWorldConfig {
  /**
   * The service's `rollout:` block: YAML flow text (`{ strategy: canary, … }`) on one line, or block
   * YAML on several lines (indented as it is anywhere; it is re-indented under `rollout:`).
   */
  rollout: string;
  instances?: number;
  /** Extra lines under `run:` (e.g. `stopTimeout: 5s`). */
  run?: string[];
  readiness?: string;
}

export interface ProcessWorldOptions {
  /** How long `stop()` waits for the agent to exit after SIGTERM before SIGKILL; default 20 s. */
  stopTimeoutMs?: number;
  /** Control plane log level (its log goes to `<dataDir>/logs`). */
  logLevel?: string;
}

export interface DeploymentsView {
  agent: { reachable: boolean; error?: string; lastSeenAt: string | null };
  environmentErrors: Record<string, string>;
  slots: SlotView[];
}

export interface RolloutEvent {
  id: number;
  at: string;
  type: string;
  payload: Record<string, unknown>;
}

/** A child process that leads its own process group, with the tail of its output kept. */
class GroupChild {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #out = "";

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.#out = (this.#out + chunk.toString()).slice(-8_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    // A signal racing the child's death reports ESRCH here; exit handling covers it.
    child.on("error", () => undefined);
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error(`${this.name} has no pid`);
    return pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.#out;
  }

  /** Signals the whole group; false when it is gone already. */
  signal(signal: NodeJS.Signals): boolean {
    return signalGroup(this.pid, signal);
  }

  /** Resolves with the output once `pattern` appears; rejects if the child exits or time runs out first. */
  waitForOutput(pattern: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.#out);
        if (match === null) return;
        cleanup();
        resolve(match);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`${this.name} exited before it was ready:\n${this.#out}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.#out}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout?.off("data", check);
        this.child.off("exit", onExit);
      };
      this.child.stdout?.on("data", check);
      this.child.once("exit", onExit);
      check();
    });
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Children of every world not stopped yet, for the exit hook. */
const liveWorlds = new Set<ProcessWorld>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const world of liveWorlds) world.killAllSync();
  });
}

/** /proc/<pid>/stat field 22 (start time in clock ticks); undefined when the process is gone. */
function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/**
 * Instance process groups named by the agent's pid files that are still the processes the files
 * describe (same start time), so a reused pid is never killed.
 */
export function instanceGroups(dataDir: string): number[] {
  const base = join(dataDir, "agent", "instances");
  const pids: number[] = [];
  const list = (dir: string, wanted: (e: Dirent) => boolean) => {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter(wanted)
        .map((e) => join(dir, e.name));
    } catch {
      return [];
    }
  };
  for (const serviceDir of list(base, (e) => e.isDirectory())) {
    for (const envDir of list(serviceDir, (e) => e.isDirectory())) {
      for (const path of list(envDir, (e) => e.name.endsWith(".pid"))) {
        try {
          const record = JSON.parse(readFileSync(path, "utf8")) as {
            pid?: number;
            startTicks?: number;
          };
          if (typeof record.pid !== "number") continue;
          const ticks = startTicks(record.pid);
          if (ticks === undefined) continue;
          if (record.startTicks !== undefined && record.startTicks !== ticks) continue;
          pids.push(record.pid);
        } catch {
          // half-written or foreign: skip
        }
      }
    }
  }
  return pids;
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SLIPWAY_")) env[k] = v;
  return env;
}

/** Indents a rollout block for `    rollout:`; a one-line flow mapping stays on the key's line. */
function rolloutYaml(text: string): string[] {
  const lines = text.replace(/\s+$/, "").split("\n");
  if (lines.length === 1) return [`    rollout: ${text.trim()}`];
  const body = lines.filter((l) => l.trim() !== "");
  const indent = Math.min(...body.map((l) => /^ */.exec(l)?.[0].length ?? 0));
  return ["    rollout:", ...body.map((l) => `      ${l.slice(indent)}`)];
}

export class ProcessWorld {
  readonly root = mkdtempSync(join(tmpdir(), "slipway-process-world-"));
  readonly dataDir = join(this.root, "data");
  routerPort = 0;
  routerUrl = "";
  /** The control plane's current URL (a new port after every restart) and admin token. */
  apiUrl = "";
  token = "";
  agent: GroupChild | undefined;
  controlPlane: GroupChild | undefined;
  /** Every control plane started, for cleanup. */
  readonly #controlPlanes: GroupChild[] = [];
  readonly #options: ProcessWorldOptions;
  readonly #api = new HttpAgent({ connections: 4 });

  constructor(options: ProcessWorldOptions = {}) {
    this.#options = options;
    liveWorlds.add(this);
    installExitHook();
  }

  async start(config: ProcessWorldConfig): Promise<this> {
    this.routerPort = await findFreePort();
    this.routerUrl = `http://127.0.0.1:${this.routerPort}/`;
    await this.startAgent();
    await this.startControlPlane();
    await this.applyConfig(config);
    return this;
  }

  async startAgent(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    const child = spawn(process.execPath, [AGENT_MAIN, "--data-dir", this.dataDir, "--log-level", "warn"], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv(),
    });
    this.agent = new GroupChild("node agent", child);
    await this.agent.waitForOutput(/listening on /);
  }

  /** Starts `slipway server` on a free port of 127.0.0.1 and reads its URL and the admin token. */
  async startControlPlane(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        CLI_MAIN,
        "server",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        this.dataDir,
        "--log-level",
        this.#options.logLevel ?? "warn",
      ],
      { detached: true, stdio: ["ignore", "pipe", "pipe"], env: childEnv() },
    );
    const cp = new GroupChild("control plane", child);
    this.#controlPlanes.push(cp);
    this.controlPlane = cp;
    const [url] = await cp.waitForOutput(/http:\/\/127\.0\.0\.1:\d+/);
    // `launch` writes client.json before it prints the URL; the token stays the first start's.
    const file = JSON.parse(readFileSync(join(this.dataDir, "client.json"), "utf8")) as {
      server: string;
      token?: string;
    };
    if (file.server !== url || file.token === undefined) {
      throw new Error(`client.json does not match the control plane on ${url}: ${JSON.stringify(file)}`);
    }
    this.apiUrl = url;
    this.token = file.token;
  }

  /** SIGKILL to the control plane's group; resolves once it is gone. */
  async killControlPlane(): Promise<void> {
    const cp = this.controlPlane;
    if (cp === undefined) return;
    cp.signal("SIGKILL");
    await cp.exited;
    this.controlPlane = undefined;
  }

  async applyConfig(config: ProcessWorldConfig): Promise<void> {
    const yaml = [
      "project: shop",
      "environments:",
      `  production: { router: { listen: 127.0.0.1:${this.routerPort} } }`,
      "services:",
      "  web:",
      "    route: { path: / }",
      "    run:",
      "      command: node app.mjs",
      `      instances: ${config.instances ?? 2}`,
      ...(config.run ?? []).map((line) => `      ${line}`),
      "    health:",
      `      readiness: ${config.readiness ?? "{ http: /healthz, interval: 200ms, timeout: 1s, healthyAfter: 1, unhealthyAfter: 2 }"}`,
      ...rolloutYaml(config.rollout),
      "",
    ].join("\n");
    const plan = await this.api<{ baseRevision: number }>("POST", "/api/v1/config/plan", {
      source: yaml,
      file: "slipway.yaml",
    });
    await this.api("POST", "/api/v1/config/apply", {
      source: yaml,
      file: "slipway.yaml",
      baseRevision: plan.baseRevision,
    });
  }

  /** Writes an artifact directory for a version and returns its path. */
  artifact(version: string, behaviour: Behaviour = {}): string {
    return writeTestArtifact(this.root, version, behaviour);
  }

  async deploy(version: string, behaviour: Behaviour = {}): Promise<Rollout> {
    const res = await this.api<{ rollout: Rollout }>("POST", "/api/v1/deploys", {
      service: "web",
      env: "production",
      version,
      artifact: this.artifact(version, behaviour),
    });
    return res.rollout;
  }

  async rollback(): Promise<Rollout> {
    return this.api<Rollout>("POST", "/api/v1/services/web/environments/production/rollback", {});
  }

  async rollout(id: number): Promise<Rollout> {
    return (await this.api<{ rollout: Rollout }>("GET", `/api/v1/rollouts/${id}`)).rollout;
  }

  async verdicts(id: number): Promise<StoredVerdict[]> {
    return (await this.api<{ verdicts: StoredVerdict[] }>("GET", `/api/v1/rollouts/${id}?verdicts=100`))
      .verdicts;
  }

  async deployments(): Promise<DeploymentsView> {
    return this.api<DeploymentsView>("GET", "/api/v1/deployments");
  }

  /** The slot of web in production once the control plane has ticked (its view is empty before). */
  async slot(timeoutMs = 20_000): Promise<SlotView> {
    return waitFor(
      async () => {
        const view = (await this.deployments()).slots.find(
          (s) => s.service === "web" && s.env === "production",
        );
        return view !== undefined && view.releases.length > 0 && view;
      },
      { what: "the control plane to show a slot for web in production", timeoutMs, intervalMs: 100 },
    );
  }

  /** The rollout events of one rollout (oldest first). */
  async rolloutEvents(id: number): Promise<RolloutEvent[]> {
    const { events } = await this.api<{ events: RolloutEvent[] }>(
      "GET",
      "/api/v1/events?type=rollout.&after=0&limit=1000",
    );
    return events.filter((e) => e.payload.id === id);
  }

  /** Polls until `done(rollout)`; fails with the rollout's state after `timeoutMs`. */
  async waitUntil(
    id: number,
    done: (r: Rollout, state: RolloutState) => boolean,
    what: string,
    timeoutMs = 60_000,
    pollMs = 50,
  ): Promise<Rollout> {
    return waitFor(
      async () => {
        const r = await this.rollout(id);
        // Thrown rather than returned so that the timeout error carries the rollout's last state.
        if (!done(r, r.state as unknown as RolloutState)) {
          throw new Error(`rollout ${id} is ${r.status} (${JSON.stringify(r.state)})`);
        }
        return r;
      },
      { what: `rollout ${id} to be ${what}`, timeoutMs, intervalMs: pollMs },
    );
  }

  waitFor(id: number, statuses: RolloutStatus[], timeoutMs = 60_000): Promise<Rollout> {
    return this.waitUntil(id, (r) => statuses.includes(r.status), statuses.join("/"), timeoutMs, 100);
  }

  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await request(`${this.apiUrl}${path}`, {
      method: method as "GET",
      dispatcher: this.#api,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /** GET / through the router; the body is the release that answered. */
  async hit(): Promise<{ status: number; body: string }> {
    const res = await request(this.routerUrl, { headersTimeout: 5000, bodyTimeout: 5000 });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** Instances of one release in the slot view. */
  static running(slot: SlotView, version: string): InstanceStatus[] {
    return slot.releases.find((r) => r.version === version)?.running ?? [];
  }

  /**
   * Control plane: SIGTERM, SIGKILL after 5 s. Agent: SIGTERM (it drains and stops its instances),
   * SIGKILL to its group after `stopTimeoutMs`. Then SIGKILL to every instance group still alive, and
   * the temp directory is removed. Safe to call twice.
   */
  async stop(): Promise<void> {
    const waitOrKill = async (child: GroupChild, ms: number) => {
      if (!child.running) return;
      const timer = setTimeout(() => child.signal("SIGKILL"), ms);
      await child.exited;
      clearTimeout(timer);
      // Anything the leader forked and left in its group.
      child.signal("SIGKILL");
    };
    for (const cp of this.#controlPlanes) {
      if (cp.running) cp.signal("SIGTERM");
      await waitOrKill(cp, 5_000);
    }
    if (this.agent !== undefined) {
      if (this.agent.running) signalLeader(this.agent.pid, "SIGTERM");
      await waitOrKill(this.agent, this.#options.stopTimeoutMs ?? 20_000);
    }
    for (const pgid of instanceGroups(this.dataDir)) signalGroup(pgid, "SIGKILL");
    await this.#api.close().catch(() => undefined);
    liveWorlds.delete(this);
    rmSync(this.root, { recursive: true, force: true });
  }

  /** For the exit hook: SIGKILL to everything, synchronously. */
  killAllSync(): void {
    for (const cp of this.#controlPlanes) if (cp.running) cp.signal("SIGKILL");
    if (this.agent?.running === true) this.agent.signal("SIGKILL");
    if (existsSync(this.dataDir))
      for (const pgid of instanceGroups(this.dataDir)) signalGroup(pgid, "SIGKILL");
  }

  /** The output of the agent and of the last control plane, for failure messages. */
  diagnostics(): string {
    return `agent:\n${this.agent?.output() ?? ""}\ncontrol plane:\n${this.controlPlane?.output() ?? this.#controlPlanes.at(-1)?.output() ?? ""}`;
  }
}

/** The agent's own handler does the orderly stop; only the leader gets SIGTERM. */
function signalLeader(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
