/**
 * The rollout driver, in the control plane. Every tick (a quarter second, sooner when the agent reports
 * an instance change or someone issues a command) it:
 *
 * 1. reads what the agent runs (`GET /v1/state`); an unreachable agent is reported and retried, and
 *    nothing else happens: no decision is made on a world we cannot see;
 * 2. plans every active rollout (planner.ts) with the windows it asks for, and persists each decision
 *    with compare-and-set before acting on it;
 * 3. works out what should run for every (service, environment) (desired.ts), starts missing
 *    instances, puts each environment's route table, and only then stops instances nothing wants
 *    (they left the table first, so the router sends them nothing new);
 * 4. lets warm releases expire.
 *
 * Everything it needs after a restart is in the store (rollouts, slots, releases) or in the agent
 * (instances, listeners), so a `kill -9` of the control plane loses nothing: the next process ticks
 * from there.
 */
import type { Logger } from "pino";
import type { AgentClient, AgentState, StatsWindowJson } from "../agent/index.js";
import { parseDuration, type ServiceConfig } from "../config/index.js";
import type { SampleWindow } from "../judge/index.js";
import type { InstanceStatus } from "../runtime/index.js";
import type { RouteTable } from "../router/index.js";
import type { Release, Rollout, Slot, Store } from "../store/index.js";
import { SlipwayError, clientMessage } from "../util/errors.js";
import type { AgentLink } from "./agent-link.js";
import { desiredReleases, instanceId, parseInstanceId, routeFor, type DesiredRelease } from "./desired.js";
import { isFinal, plan, windowWanted } from "./planner.js";
import { PreviewTraffic } from "./preview.js";
import { EnvironmentRouters, sameJson, type RouterProblem } from "./routers.js";
import { holdTimers, isStoreUnavailable, StoreHold, type StoreHoldView } from "./store-hold.js";
import type { Decision, Observed, PlannerRollout, ReleaseObservation, RolloutState } from "./types.js";

const TICK_MS = 250;
/** Restarts of a new release's instance after which the rollout treats it as failed. */
const CRASH_LOOP_RESTARTS = 3;
/** Back-off between attempts while the agent is unreachable. */
const AGENT_RETRY_MS = 1_000;

export interface ControllerOptions {
  store: Store;
  agent: AgentLink;
  logger: Logger;
  now?: () => number;
  tickMs?: number;
  /** Values for `run.secrets`; default: the control plane's own environment. */
  secret?: (name: string) => string | undefined;
}

export interface AgentHealth {
  reachable: boolean;
  /** Why not, while unreachable. */
  error?: string;
  /** ISO time of the last successful read of the agent's state. */
  lastSeenAt: string | null;
}

/** One release of a slot as it runs now. */
export interface ReleaseView extends DesiredRelease {
  ready: number;
  running: InstanceStatus[];
}

export interface SlotView {
  service: string;
  env: string;
  stable: string | null;
  releases: ReleaseView[];
}

interface World {
  agentState: AgentState;
  services: Map<string, ServiceConfig>;
  environments: Map<string, { listen: string }>;
  slots: Map<string, Slot>;
  rollouts: Map<string, Rollout>;
}

const key = (service: string, env: string) => `${service}/${env}`;

export class RolloutController {
  readonly #store: Store;
  readonly #agent: AgentLink;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #tickMs: number;
  readonly secret: (name: string) => string | undefined;
  readonly #releases = new Map<string, Release>();
  readonly #stopping = new Set<string>();
  readonly #starting = new Set<string>();
  readonly #preview: PreviewTraffic;
  #views = new Map<string, SlotView>();
  #health: AgentHealth = { reachable: false, lastSeenAt: null };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** Callers of settle(), resolved when a tick that started after their call has finished. */
  #settlers: (() => void)[] = [];
  #stopped = true;
  #events: AbortController | undefined;
  #lastAgentError = "";
  readonly #routers: EnvironmentRouters;
  readonly #hold: StoreHold;

  constructor(options: ControllerOptions) {
    this.#store = options.store;
    this.#agent = options.agent;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#tickMs = options.tickMs ?? TICK_MS;
    this.secret = options.secret ?? ((name) => process.env[name]);
    this.#preview = new PreviewTraffic(this.#logger);
    this.#routers = new EnvironmentRouters({ store: this.#store, logger: this.#logger, now: this.#now });
    this.#hold = new StoreHold(this.#logger);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
    void this.#followAgentEvents();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const settled of this.#settlers.splice(0)) settled();
    this.#events?.abort();
    await this.#running;
    this.#preview.stopAll();
    await this.#agent.close();
  }

  /** Plan again as soon as possible (after a deploy or a command). */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  /** Resolves after one full tick that started after this call (tests and `deploy` use it). */
  settle(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#settlers.push(resolve);
      this.poke();
    });
  }

  agentHealth(): AgentHealth {
    return { ...this.#health };
  }

  /** Rollouts held because the store cannot record their decisions (for /metrics and /readyz). */
  storeHold(): StoreHoldView {
    return this.#hold.view();
  }

  views(): SlotView[] {
    return [...this.#views.values()];
  }

  view(service: string, env: string): SlotView | undefined {
    return this.#views.get(key(service, env));
  }

  environmentErrors(): Record<string, string> {
    return this.#routers.errors();
  }

  /** Environments whose router is not listening, with the address and the cause. */
  routerProblems(): RouterProblem[] {
    return this.#routers.problems();
  }

  async agentClient(): Promise<AgentClient> {
    return this.#agent.client();
  }

  async release(service: string, version: string): Promise<Release | undefined> {
    const k = `${service}@${version}`;
    const cached = this.#releases.get(k);
    if (cached !== undefined) return cached;
    const release = await this.#store.delivery.getRelease(service, version);
    if (release !== undefined) this.#releases.set(k, release);
    return release;
  }

  #schedule(delay: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const settlers = this.#settlers.splice(0);
      this.#running = this.#tick()
        .catch((err: unknown) => {
          // A store that cannot be read is said once, not on every tick; the next tick tries again.
          if (isStoreUnavailable(err)) this.#hold.failed(err, this.#now());
          else this.#logger.error({ err }, "rollout controller tick failed");
        })
        .finally(() => {
          this.#running = undefined;
          for (const settled of settlers) settled();
          if (this.#stopped) return;
          const again = this.#again;
          this.#again = false;
          this.#schedule(again ? 0 : this.#health.reachable ? this.#tickMs : AGENT_RETRY_MS);
        });
    }, delay);
  }

  /** Agent instance events wake the controller up, so readiness is acted on at once. */
  async #followAgentEvents(): Promise<void> {
    while (!this.#stopped) {
      this.#events = new AbortController();
      try {
        const client = await this.#agent.client();
        for await (const _event of client.events({ signal: this.#events.signal })) {
          this.poke();
        }
      } catch {
        // Unreachable: the tick reports it; try again shortly.
      }
      await new Promise((resolve) => setTimeout(resolve, AGENT_RETRY_MS));
    }
  }

  async #tick(): Promise<void> {
    const world = await this.#observe();
    if (world === undefined) return;
    const now = this.#now();
    const active = new Set([...world.rollouts.values()].map((r) => r.id));
    for (const [k, rollout] of world.rollouts) {
      // While the store refuses writes, decisions are tried again only after a backoff.
      if (this.#hold.waiting(now)) break;
      const next = await this.#advance(rollout, world, now);
      if (next === undefined) continue;
      if (isFinal(next.status)) world.rollouts.delete(k);
      else world.rollouts.set(k, next);
    }
    // Slots may have changed with the decisions.
    for (const slot of await this.#store.delivery.listSlots())
      world.slots.set(key(slot.service, slot.env), slot);
    await this.#reconcile(world, now);
    this.#hold.tickDone(active, now, this.#now());
  }

  async #observe(): Promise<World | undefined> {
    let agentState: AgentState;
    try {
      const client = await this.#agent.client();
      agentState = await client.state();
    } catch (err) {
      this.#agent.reset();
      const message = clientMessage(err);
      if (message !== this.#lastAgentError) {
        this.#logger.warn({ err }, "node agent unreachable; retrying");
        this.#lastAgentError = message;
      }
      this.#health = { reachable: false, error: message, lastSeenAt: this.#health.lastSeenAt };
      return undefined;
    }
    if (!this.#health.reachable && this.#lastAgentError !== "") {
      this.#logger.info("node agent reachable again");
    }
    this.#lastAgentError = "";
    this.#health = { reachable: true, lastSeenAt: new Date(this.#now()).toISOString() };
    const [objects, slots, active] = await Promise.all([
      this.#store.config.listObjects(),
      this.#store.delivery.listSlots(),
      this.#store.delivery.listRollouts({ active: true, limit: 1000 }),
    ]);
    const services = new Map<string, ServiceConfig>();
    const environments = new Map<string, { listen: string }>();
    for (const o of objects) {
      if (o.kind === "service") services.set(o.name, o.spec as unknown as ServiceConfig);
      if (o.kind === "environment") {
        const spec = o.spec as unknown as { router: { listen: string } };
        environments.set(o.name, { listen: spec.router.listen });
      }
    }
    return {
      agentState,
      services,
      environments,
      slots: new Map(slots.map((s) => [key(s.service, s.env), s])),
      rollouts: new Map(active.map((r) => [key(r.service, r.env), r])),
    };
  }

  /** Plans one rollout and persists the decision; undefined when nothing changed or the write lost a race. */
  async #advance(rollout: Rollout, world: World, now: number): Promise<Rollout | undefined> {
    const planned = asPlanner(rollout);
    // Time spent waiting for the store is not the rollout's: its clocks move on by it (store-hold.ts).
    const heldMs = this.#hold.heldFor(rollout.id, now);
    planned.state = holdTimers(planned.state, heldMs);
    const observed: Observed = {
      new: observe(world.agentState.instances, rollout.service, rollout.env, rollout.release),
      old:
        rollout.previous === null
          ? { ready: 0, total: 0, failed: [] }
          : observe(world.agentState.instances, rollout.service, rollout.env, rollout.previous),
    };
    if (!isFinal(rollout.status) && rollout.status !== "watching") {
      observed.new.failed.push(...(await this.#crashLooping(world.agentState.instances, rollout)));
    }
    const since = windowWanted(planned, now);
    if (since !== undefined) {
      const canary = await this.#window(rollout.env, rollout.service, rollout.release, since);
      const baseline =
        rollout.previous === null
          ? null
          : await this.#window(rollout.env, rollout.service, rollout.previous, since);
      observed.window = { canary, baseline, end: now };
    }
    const decision = plan(planned, observed, now);
    // The first decision the store takes again says how long the rollout waited, and why.
    if (heldMs > 0) {
      decision.events.unshift({ type: "rollout.held", payload: { heldMs, cause: this.#hold.cause() } });
    }
    this.#steerPreview(rollout, decision, world);
    if (unchanged(rollout, decision)) return undefined;
    try {
      return await this.persist(rollout, decision, "system:rollout");
    } catch (err) {
      // Not written, so not acted on: the rollout holds as stored, and this decision is made again.
      if (!isStoreUnavailable(err)) throw err;
      this.#hold.failed(err, now, rollout.id);
      return undefined;
    }
  }

  /** Writes a decision with compare-and-set; a lost race returns undefined (the next tick re-reads). */
  async persist(rollout: Rollout, decision: Decision, actor: string): Promise<Rollout | undefined> {
    const d = decision;
    try {
      const written = await this.#store.delivery.updateRollout({
        id: rollout.id,
        expectedRevision: rollout.revision,
        status: d.status,
        state: d.state as unknown as Rollout["state"],
        reason: d.reason ?? rollout.reason,
        ...(d.slot === undefined ? {} : { slot: d.slot }),
        ...(d.verdict === undefined
          ? {}
          : {
              verdict: {
                step: d.verdict.step,
                phase: d.verdict.phase,
                result: d.verdict.verdict.result,
                windowStart: new Date(d.verdict.windowStart).toISOString(),
                windowEnd: new Date(d.verdict.windowEnd).toISOString(),
                verdict: d.verdict.verdict as unknown as Rollout["state"],
              },
            }),
        events: d.events.map((e) => ({
          type: e.type,
          actor,
          objectKind: "service",
          objectName: rollout.service,
          payload: { id: rollout.id, env: rollout.env, release: rollout.release, ...e.payload },
        })),
      });
      this.#hold.recorded(rollout.id, this.#now());
      if (
        d.events.some(
          (e) =>
            e.type === "rollout.rolled-back" || e.type === "rollout.aborted" || e.type === "rollout.failed",
        )
      ) {
        this.#logger.warn(
          { rollout: rollout.id, service: rollout.service, env: rollout.env, reason: d.reason },
          "rollout stopped",
        );
      }
      return written;
    } catch (err) {
      if (err instanceof SlipwayError && (err.code === "stale_write" || err.code === "rollout_in_progress"))
        return undefined;
      throw err;
    }
  }

  /**
   * A new release's instance that keeps crashing counts as failed for the rollout long before the
   * runtime gives up on it (its backoff can take half a minute): users should not wait on a release
   * that cannot start. The reason carries the instance's last log lines.
   */
  async #crashLooping(
    instances: readonly InstanceStatus[],
    rollout: Rollout,
  ): Promise<ReleaseObservation["failed"]> {
    const out: ReleaseObservation["failed"] = [];
    for (const i of instances) {
      if (i.service !== rollout.service || i.env !== rollout.env || i.release !== rollout.release) continue;
      if (i.phase !== "backoff" || i.restarts < CRASH_LOOP_RESTARTS) continue;
      let tail: string[] = [];
      try {
        tail = await (await this.#agent.client()).logs(i.id, { tail: 5 });
      } catch {
        // The reason is still clear without the lines.
      }
      out.push({
        id: i.id,
        message:
          `restarted ${i.restarts} times without becoming ready (${i.message ?? i.reason ?? "exited"})` +
          (tail.length === 0 ? "" : `\nlast ${tail.length} log lines:\n${tail.join("\n")}`),
      });
    }
    return out;
  }

  async #window(env: string, service: string, release: string, since: number): Promise<SampleWindow> {
    let w: StatsWindowJson;
    try {
      w = await (await this.#agent.client()).stats(env, service, release, { sinceMs: since });
    } catch (err) {
      if (err instanceof SlipwayError && err.code === "not_found")
        return { requests: 0, errors: 0, latenciesMs: [] };
      throw err;
    }
    // The router decides who is to blame for a client that left: `errors` already holds the requests
    // a release kept waiting past its threshold (`abandoned`), so a hanging canary cannot pass an
    // error-rate check, while `aborted` (clients that left early) is no error: no client can make one.
    return { requests: w.requests, errors: w.errors, latenciesMs: w.latenciesMs };
  }

  #steerPreview(rollout: Rollout, decision: Decision, world: World): void {
    const inPreview = !isFinal(decision.status) && decision.state.phase === "preview";
    const env = world.environments.get(rollout.env);
    const service = world.services.get(rollout.service);
    if (inPreview && env !== undefined && service !== undefined && rollout.previous !== null) {
      const routerState = world.agentState.environments.find((e) => e.name === rollout.env);
      const address = routerState?.address;
      if (address === undefined) return;
      this.#preview.ensure(rollout.id, {
        origin: `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`,
        path: service.route.path,
        host: service.route.host,
        releases: [rollout.release, rollout.previous],
      });
    } else {
      this.#preview.stop(rollout.id);
    }
  }

  async #reconcile(world: World, now: number): Promise<void> {
    const client = await this.#agent.client();
    const running = world.agentState.instances;
    const wanted = new Map<string, { service: string; env: string; version: string; index: number }>();
    const views = new Map<string, SlotView>();
    const desiredBySlot = new Map<string, DesiredRelease[]>();

    for (const [envName] of world.environments) {
      for (const [serviceName, service] of world.services) {
        const k = key(serviceName, envName);
        const slot = world.slots.get(k);
        const desired = desiredReleases(slot, world.rollouts.get(k), service.run.instances, now);
        desiredBySlot.set(k, desired);
        for (const d of desired) {
          for (let index = 1; index <= d.instances; index += 1) {
            wanted.set(instanceId(serviceName, envName, d.version, index), {
              service: serviceName,
              env: envName,
              version: d.version,
              index,
            });
          }
        }
      }
    }

    // Start what is missing (a stopped or failed leftover of an earlier try is removed first).
    const byId = new Map(running.map((i) => [i.id, i]));
    const started: InstanceStatus[] = [];
    await Promise.all(
      [...wanted].map(async ([id, w]) => {
        const existing = byId.get(id);
        if (existing !== undefined && existing.phase !== "stopped") return;
        if (this.#starting.has(id) || this.#stopping.has(id)) return;
        this.#starting.add(id);
        try {
          const status = await this.#startInstance(client, id, w);
          if (status !== undefined) started.push(status);
        } catch (err) {
          this.#logger.error({ err, instance: id }, "could not start instance");
        } finally {
          this.#starting.delete(id);
        }
      }),
    );
    const current = [...running.filter((i) => !started.some((s) => s.id === i.id)), ...started];

    // Route tables: every declared environment gets its listener (routers.ts orders and reports).
    const tables = new Map<string, { listen: string; routes: RouteTable }>();
    for (const [envName, env] of world.environments) {
      const table: RouteTable = { services: [] };
      for (const [serviceName, service] of world.services) {
        const desired = desiredBySlot.get(key(serviceName, envName)) ?? [];
        const entry = routeFor(serviceName, service.route, envName, desired, current);
        if (entry !== undefined) table.services.push(entry);
      }
      tables.set(envName, { listen: env.listen, routes: table });
    }
    await this.#routers.reconcile(client, world.agentState.environments, tables);

    // Stop what nothing wants, after the tables no longer send it traffic. In the background: a stop
    // waits up to the instance's stop timeout.
    for (const instance of current) {
      if (wanted.has(instance.id) || this.#stopping.has(instance.id)) continue;
      this.#stopping.add(instance.id);
      client
        .stopInstance(instance.id)
        .catch((err: unknown) => {
          if (!(err instanceof SlipwayError && err.code === "not_found")) {
            this.#logger.error({ err, instance: instance.id }, "could not stop instance");
          }
        })
        .finally(() => {
          this.#stopping.delete(instance.id);
        });
    }

    for (const [k, desired] of desiredBySlot) {
      const [service = "", env = ""] = k.split("/");
      if (desired.length === 0 && world.slots.get(k) === undefined) continue;
      views.set(k, {
        service,
        env,
        stable: world.slots.get(k)?.stable ?? null,
        releases: desired.map((d) => {
          const mine = current.filter(
            (i) => i.service === service && i.env === env && i.release === d.version,
          );
          return { ...d, ready: mine.filter((i) => i.ready).length, running: mine };
        }),
      });
    }
    this.#views = views;
    await this.#expireWarm(world, now);
  }

  async #startInstance(
    client: AgentClient,
    id: string,
    w: { service: string; env: string; version: string },
  ): Promise<InstanceStatus | undefined> {
    const release = await this.release(w.service, w.version);
    if (release === undefined) {
      this.#logger.error({ instance: id }, "no such release; cannot start instance");
      return undefined;
    }
    const config = release.config as unknown as ServiceConfig;
    const envVars: Record<string, string> = { ...(config.run.env ?? {}) };
    for (const name of config.run.secrets ?? []) {
      const value = this.secret(name);
      if (value !== undefined) envVars[name] = value;
    }
    const health = config.health;
    return client.startInstance({
      id,
      service: w.service,
      env: w.env,
      release: w.version,
      command: config.run.command,
      cwd: release.artifactDir,
      envVars,
      stopTimeoutMs: parseDuration(config.run.stopTimeout),
      ...(health === undefined
        ? {}
        : {
            health: {
              ...(health.readiness === undefined ? {} : { readiness: health.readiness }),
              ...(health.liveness === undefined ? {} : { liveness: health.liveness }),
            },
          }),
    });
  }

  async #expireWarm(world: World, now: number): Promise<void> {
    for (const [k, slot] of world.slots) {
      const rollout = world.rollouts.get(k);
      if (rollout !== undefined && rollout.status !== "watching") continue;
      const keep = slot.warm.filter((w) => Date.parse(w.until) > now);
      if (keep.length === slot.warm.length) continue;
      const gone = slot.warm.filter((w) => !keep.includes(w));
      try {
        await this.#store.delivery.updateSlot(
          slot.service,
          slot.env,
          slot.revision,
          { stable: slot.stable, warm: keep },
          gone.map((w) => ({
            type: "release.retired",
            actor: "system:rollout",
            objectKind: "service",
            objectName: slot.service,
            payload: { env: slot.env, release: w.version },
          })),
        );
      } catch (err) {
        if (isStoreUnavailable(err)) {
          this.#hold.failed(err, now);
          return;
        }
        if (!(err instanceof SlipwayError && err.code === "stale_write")) throw err;
      }
    }
  }
}

export function asPlanner(rollout: Rollout): PlannerRollout {
  return {
    strategy: rollout.strategy,
    status: rollout.status,
    release: rollout.release,
    previous: rollout.previous,
    state: rollout.state as unknown as RolloutState,
  };
}

function observe(
  instances: readonly InstanceStatus[],
  service: string,
  env: string,
  release: string,
): ReleaseObservation {
  const mine = instances.filter(
    (i) =>
      i.service === service && i.env === env && i.release === release && parseInstanceId(i.id) !== undefined,
  );
  return {
    ready: mine.filter((i) => i.ready).length,
    total: mine.filter((i) => i.phase !== "stopped" && i.phase !== "failed").length,
    failed: mine
      .filter((i) => i.phase === "failed")
      .map((i) => ({ id: i.id, message: i.message ?? i.reason ?? "failed" })),
  };
}

function unchanged(rollout: Rollout, d: Decision): boolean {
  return (
    d.status === rollout.status &&
    d.slot === undefined &&
    d.verdict === undefined &&
    d.events.length === 0 &&
    sameJson(d.state, rollout.state)
  );
}
