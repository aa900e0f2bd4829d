/**
 * An end-to-end world for rollout tests: a real node agent and a real control plane in this process
 * (real Unix socket, real router listener, real child processes for instances), a store of the
 * chosen backend, a config applied through the API, artifacts written per version, and a load
 * generator that counts what clients saw. (Excluded from the build like the other fixtures.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent as HttpAgent, request } from "undici";
import { createAgent, type Agent } from "../agent/index.js";
import { createSilentLogger } from "../log/index.js";
import { startServer, type RunningServer } from "../server/index.js";
import type { Rollout, StoreOptions } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { writeTestArtifact, type Behaviour } from "./process-world-fixtures.js";

/** The service every test deploys (behaviour per version from behaviour.json in its artifact). */
export type { Behaviour };

export interface WorldOptions {
  /** The `rollout:` block of the service, as YAML flow text. */
  rollout: string;
  instances?: number;
  /** Extra lines under `run:` (e.g. stopTimeout). */
  run?: string;
  store?: StoreOptions;
  readiness?: string;
  /** More top-level YAML (e.g. a `pipelines:` block). */
  extra?: string;
  /** Freeze windows of the production environment. */
  freeze?: string[];
  /** The production router's port; default a free one. */
  routerPort?: number;
}

export class DeliveryWorld {
  readonly root = mkdtempSync(join(tmpdir(), "slipway-rollout-"));
  readonly dataDir = join(this.root, "data");
  agent!: Agent;
  server!: RunningServer;
  routerPort = 0;
  routerUrl = "";

  async start(options: WorldOptions): Promise<this> {
    this.routerPort = options.routerPort ?? (await findFreePort());
    this.routerUrl = `http://127.0.0.1:${this.routerPort}`;
    await this.startAgent();
    await this.startControlPlane(options.store);
    const yaml = [
      "project: shop",
      "environments:",
      `  production: { router: { listen: 127.0.0.1:${this.routerPort} }${
        options.freeze === undefined ? "" : `, protection: { freeze: ${JSON.stringify(options.freeze)} }`
      } }`,
      "services:",
      "  web:",
      "    route: { path: / }",
      "    run:",
      "      command: node app.mjs",
      `      instances: ${options.instances ?? 2}`,
      ...(options.run === undefined ? [] : [`      ${options.run}`]),
      "    health:",
      `      readiness: ${options.readiness ?? "{ http: /healthz, interval: 200ms, timeout: 1s, healthyAfter: 1, unhealthyAfter: 2 }"}`,
      `    rollout: ${options.rollout}`,
      ...(options.extra === undefined ? [] : [options.extra]),
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
    return this;
  }

  async startAgent(): Promise<void> {
    this.agent = await createAgent({ dataDir: this.dataDir, logger: createSilentLogger(), drainMs: 1000 });
    await this.agent.start();
  }

  async startControlPlane(store?: StoreOptions): Promise<void> {
    this.server = await startServer({
      settings: {
        listen: { host: "127.0.0.1", port: 0 },
        dataDir: this.dataDir,
        databaseUrl: store?.databaseUrl,
        logLevel: "silent",
      },
      logger: createSilentLogger(),
      tickMs: 100,
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

  async rollout(id: number): Promise<Rollout> {
    return (await this.api<{ rollout: Rollout }>("GET", `/api/v1/rollouts/${id}`)).rollout;
  }

  /** Waits until the rollout's status is one of `statuses`; fails with its state after `timeoutMs`. */
  async waitFor(id: number, statuses: Rollout["status"][], timeoutMs = 30_000): Promise<Rollout> {
    return waitFor(
      async () => {
        const r = await this.rollout(id);
        // Thrown rather than returned so that the timeout error carries the rollout's last state.
        if (!statuses.includes(r.status))
          throw new Error(`rollout ${id} is ${r.status} (${JSON.stringify(r.state)})`);
        return r;
      },
      { what: `rollout ${id} to be ${statuses.join("/")}`, timeoutMs, intervalMs: 100 },
    );
  }

  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.call(method, path, body);
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as T;
  }

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await request(`${this.server.url}${path}`, {
      method: method as "GET",
      headers: {
        authorization: `Bearer ${this.server.localToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  }

  /** GET / through the router; the body is the release that answered. */
  async hit(): Promise<{ status: number; body: string }> {
    const res = await request(this.routerUrl, { headersTimeout: 5000, bodyTimeout: 5000 });
    return { status: res.statusCode, body: await res.body.text() };
  }

  async stop(): Promise<void> {
    await this.server.stop().catch(() => undefined);
    await this.agent.stop({ stopInstances: true }).catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface LoadResult {
  sent: number;
  byStatus: Record<string, number>;
  socketErrors: number;
  /** Which release answered, counted. */
  byRelease: Record<string, number>;
}

/** Requests at about `rps` until stopped; every answer and every socket error is counted. */
export function startLoad(url: string, rps: number): { stop(): Promise<LoadResult>; snapshot(): LoadResult } {
  const result: LoadResult = { sent: 0, byStatus: {}, socketErrors: 0, byRelease: {} };
  const dispatcher = new HttpAgent({ connections: 16 });
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    result.sent += 1;
    const p = request(url, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 })
      .then(async (res) => {
        const body = await res.body.text();
        result.byStatus[res.statusCode] = (result.byStatus[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) result.byRelease[body] = (result.byRelease[body] ?? 0) + 1;
      })
      .catch(() => {
        result.socketErrors += 1;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }, 1000 / rps);
  return {
    snapshot: () => structuredClone(result),
    async stop() {
      clearInterval(timer);
      await Promise.all([...inflight]);
      await dispatcher.close();
      return result;
    },
  };
}

// Helpers for strategies.test.ts and faults.test.ts (read-only views of the world through the API
// and the agent; they change nothing).

/** `GET /api/v1/deployments`, typed for the fields the tests read. */
export interface DeploymentsView {
  agent: { reachable: boolean; error?: string; lastSeenAt: string | null };
  environmentErrors: Record<string, string>;
  slots: {
    service: string;
    env: string;
    stable: string | null;
    releases: {
      version: string;
      role: string;
      instances: number;
      weight: number;
      ready: number;
      running: { id: string; release: string; pid?: number; phase: string; ready: boolean }[];
    }[];
  }[];
}

export function deployments(world: DeliveryWorld): Promise<DeploymentsView> {
  return world.api<DeploymentsView>("GET", "/api/v1/deployments");
}

/** Every instance of `web` the agent reports right now (stopping ones included), straight from the agent. */
export async function agentInstances(
  world: DeliveryWorld,
): Promise<{ id: string; release: string; pid: number | undefined; phase: string; ready: boolean }[]> {
  const client = await world.server.controller.agentClient();
  const state = await client.state();
  return state.instances.filter((i) => i.service === "web");
}

/** The event log's entries of the given type prefixes (comma-separated), oldest first. */
export async function eventsOf(
  world: DeliveryWorld,
  types: string,
): Promise<{ id: number; type: string; payload: Record<string, unknown> }[]> {
  const res = await world.api<{ events: { id: number; type: string; payload: Record<string, unknown> }[] }>(
    "GET",
    `/api/v1/events?limit=1000&type=${encodeURIComponent(types)}`,
  );
  return res.events;
}

/**
 * `waitFor` (test-support/wait-for.ts) with the signature many rollout tests use: what first, a 20 s
 * deadline, a 100 ms pause (each probe is an API call or more). The probe's value is returned once truthy.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  return waitFor(probe, { what, timeoutMs, intervalMs: 100 });
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
