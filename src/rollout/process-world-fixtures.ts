/**
 * A delivery world of real processes, shared by the durability tests (through process-fixtures.ts) and
 * the rollout benchmarks (bench/lib/zero-downtime.ts, bench/lib/bad-canary.ts): the built node agent
 * (`dist/agent/main.js`, which spawns or adopts the edge holding the router listeners) and the built
 * control plane (`dist/cli/main.js server`) as child processes, each the leader of its own process
 * group, a config applied through the API, an artifact written per version (process-app-fixtures.ts),
 * deploys and rollouts through the API. Faults of the infrastructure, on the same data directory while
 * the rest goes on: the control plane killed with SIGKILL and started again; the agent killed with
 * SIGKILL (the edge and the instances run on) and started again (it adopts them); the agent restarted
 * as planned (SIGUSR2: it exits leaving everything running, and a new one adopts it).
 *
 * Cleanup leaves nothing behind: `stop()` sends SIGTERM to the control plane and to the agent (which
 * stops its instances and the edge), SIGKILL to any group still alive after that, to the edge if its
 * record still names a live process (an agent killed and never started again stopped nothing), and to
 * every instance group a pid file still names. If this process exits without `stop()`, an exit hook
 * does the SIGKILL part synchronously.
 *
 * A fixture, so not in dist/: tests run it from src/, the benchmarks from their own build (dist-bench/,
 * tsconfig.bench.json). Both spawn the repository's dist/.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent as HttpAgent, request } from "undici";
import type { InstanceStatus } from "../runtime/index.js";
import type { Rollout, RolloutStatus, StoredVerdict } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import type { SlotView } from "./controller.js";
import {
  configYaml,
  writeTestArtifact,
  type Behaviour,
  type ProcessWorldConfig,
} from "./process-app-fixtures.js";
import {
  AGENT_MAIN,
  CLI_MAIN,
  childEnv,
  GroupChild,
  instanceGroups,
  liveEdgePid,
  liveInstances,
  signalGroup,
  signalLeader,
  type LiveInstance,
} from "./process-child-fixtures.js";
import type { RolloutState } from "./types.js";

export {
  testAppSource,
  writeTestArtifact,
  type Behaviour,
  type ProcessWorldConfig,
} from "./process-app-fixtures.js";
export {
  AGENT_MAIN,
  CLI_MAIN,
  instanceGroups,
  liveEdgePid,
  liveInstances,
  REPO_ROOT,
  type LiveInstance,
} from "./process-child-fixtures.js";

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

export class ProcessWorld {
  readonly root = mkdtempSync(join(tmpdir(), "slipway-process-world-"));
  readonly dataDir = join(this.root, "data");
  routerPort = 0;
  routerUrl = "";
  /** The control plane's current URL (a new port after every restart) and admin token. */
  apiUrl = "";
  token = "";
  /** The agent running now; undefined between `killAgent()` and the next `startAgent()`. */
  agent: GroupChild | undefined;
  controlPlane: GroupChild | undefined;
  /** Every agent started, for cleanup. */
  readonly #agents: GroupChild[] = [];
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

  /**
   * Starts the node agent on the world's data directory; resolves once it serves its API, which it
   * does after its start: after it adopted the live instances and the edge an earlier agent left.
   */
  async startAgent(): Promise<void> {
    if (this.agent?.running === true) throw new Error("an agent is running already");
    mkdirSync(this.dataDir, { recursive: true });
    const child = spawn(process.execPath, [AGENT_MAIN, "--data-dir", this.dataDir, "--log-level", "warn"], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv(),
    });
    const agent = new GroupChild("node agent", child);
    this.#agents.push(agent);
    this.agent = agent;
    await agent.waitForOutput(/listening on /);
  }

  /**
   * SIGKILL to the agent's group; resolves once it is gone. The instances and the edge are not in that
   * group (each leads its own), so they run on, unsupervised, until `startAgent()`.
   */
  async killAgent(): Promise<void> {
    const agent = this.agent;
    if (agent === undefined) return;
    agent.signal("SIGKILL");
    await agent.exited;
    this.agent = undefined;
  }

  /**
   * A planned restart (what an upgrade does): SIGUSR2 to the agent, which exits 0 leaving its instances
   * and the edge running, then a new agent that adopts them. Rejects if the old one does not exit 0.
   */
  async restartAgent(): Promise<void> {
    const agent = this.agent;
    if (agent === undefined) throw new Error("no agent to restart");
    signalLeader(agent.pid, "SIGUSR2");
    const { code, signal } = await agent.exited;
    this.agent = undefined;
    if (code !== 0) {
      throw new Error(`the agent exited with ${code ?? signal ?? "?"} on SIGUSR2:\n${agent.output()}`);
    }
    await this.startAgent();
  }

  /** The instances alive now, from the agent's pid files (readable while no agent runs). */
  liveInstances(): LiveInstance[] {
    return liveInstances(this.dataDir);
  }

  /** The edge's pid when its record names a live process. */
  edgePid(): number | undefined {
    return liveEdgePid(this.dataDir);
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
    const yaml = configYaml(config, this.routerPort);
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

  /** Deploys `version` from its own artifact, or from `artifact` (another version's: the same release). */
  async deploy(version: string, behaviour: Behaviour = {}, artifact?: string): Promise<Rollout> {
    const res = await this.api<{ rollout: Rollout }>("POST", "/api/v1/deploys", {
      service: "web",
      env: "production",
      version,
      artifact: artifact ?? this.artifact(version, behaviour),
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
   * Control plane: SIGTERM, SIGKILL after 5 s. Agent: SIGTERM (it stops its instances and the edge),
   * SIGKILL to its group after `stopTimeoutMs`. Then SIGKILL to the edge and every instance group
   * still alive (all that is left when the last agent was killed), and the temp directory is removed.
   * Safe to call twice.
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
    if (this.agent?.running === true) signalLeader(this.agent.pid, "SIGTERM");
    for (const agent of this.#agents) await waitOrKill(agent, this.#options.stopTimeoutMs ?? 20_000);
    this.#killLeftovers();
    await this.#api.close().catch(() => undefined);
    liveWorlds.delete(this);
    rmSync(this.root, { recursive: true, force: true });
  }

  /** For the exit hook: SIGKILL to everything, synchronously. */
  killAllSync(): void {
    for (const cp of this.#controlPlanes) if (cp.running) cp.signal("SIGKILL");
    for (const agent of this.#agents) if (agent.running) agent.signal("SIGKILL");
    this.#killLeftovers();
  }

  /** What outlives an agent: the edge (detached, leads its own session) and the instance groups. */
  #killLeftovers(): void {
    if (!existsSync(this.dataDir)) return;
    const edge = liveEdgePid(this.dataDir);
    if (edge !== undefined) signalGroup(edge, "SIGKILL");
    for (const pgid of instanceGroups(this.dataDir)) signalGroup(pgid, "SIGKILL");
  }

  /** The output of the agent and of the last control plane, for failure messages. */
  diagnostics(): string {
    return `agent:\n${this.agent?.output() ?? this.#agents.at(-1)?.output() ?? ""}\ncontrol plane:\n${this.controlPlane?.output() ?? this.#controlPlanes.at(-1)?.output() ?? ""}`;
  }
}
