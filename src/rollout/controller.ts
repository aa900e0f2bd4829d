/**
 * The rollout driver, in the control plane. Every tick (a quarter second, sooner when the agent reports
 * an instance change or someone issues a command) it:
 *
 * 1. reads what the agent runs (`GET /v1/state`); an unreachable agent is reported and retried, and
 *    nothing else happens: no decision is made on a world we cannot see;
 * 2. plans every active rollout (planner.ts) with the windows it asks for, and persists each decision
 *    with compare-and-set before acting on it (persist.ts);
 * 3. makes the agent match what should run for every (service, environment): the decision is pure
 *    (reconcile.ts: start what is missing, put the route tables, and only then stop what nothing wants),
 *    and reconcile-executor.ts carries it out;
 * 4. lets warm releases expire.
 *
 * The scheduling (interval, pokes, single flight, backoff after errors, stop) is the loop skeleton's
 * (src/loop); this class only says what one tick does. Everything it needs after a restart is in the
 * store (rollouts, slots, releases) or in the agent (instances, listeners), so a `kill -9` of the control
 * plane loses nothing: the next process ticks from there.
 */
import type { Logger } from "pino";
import type { AgentClient, AgentState } from "../agent/index.js";
import { createLoop, type Loop, type LoopStats } from "../loop/index.js";
import type { Release, Rollout, Store } from "../store/index.js";
import { clientMessage } from "../util/index.js";
import type { AgentLink } from "./agent-link.js";
import { decodeStored, RolloutStateCodec } from "./codecs.js";
import {
  slotKey,
  type AgentHealth,
  type ControllerOptions,
  type SlotView,
  type World,
} from "./controller-types.js";
import { crashLooping, observeRelease, readWorld, trafficWindow, windowDisruption } from "./observe.js";
import { persistDecision } from "./persist.js";
import { isFinal, plan, windowWanted } from "./planner.js";
import { PreviewTraffic } from "./preview.js";
import { ReconcileExecutor } from "./reconcile-executor.js";
import { EnvironmentRouters, sameJson, type RouterProblem } from "./routers.js";
import { holdTimers, isStoreUnavailable, StoreHold, type StoreHoldView } from "./store-hold.js";
import type { Decision, Observed, PlannerRollout } from "./types.js";

export type { AgentHealth, ControllerOptions, ReleaseView, SlotView } from "./controller-types.js";

const TICK_MS = 250;
/** Back-off between attempts while the agent is unreachable. */
const AGENT_RETRY_MS = 1_000;
/** After a failed tick the next waits this long, doubled per failure up to the cap (as StoreHold does). */
const ERROR_BACKOFF_MAX_MS = 5_000;

export class RolloutController {
  readonly #store: Store;
  readonly #agent: AgentLink;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly secret: (name: string) => string | undefined;
  readonly #releases = new Map<string, Release>();
  readonly #preview: PreviewTraffic;
  readonly #routers: EnvironmentRouters;
  readonly #hold: StoreHold;
  readonly #executor: ReconcileExecutor;
  readonly #loop: Loop;
  #views = new Map<string, SlotView>();
  #health: AgentHealth = { reachable: false, lastSeenAt: null };
  /** When a read of the agent last failed: traffic windows spanning it are set aside. */
  #agentLostAt: number | undefined;
  #stopped = true;
  #events: AbortController | undefined;
  #lastAgentError = "";

  constructor(options: ControllerOptions) {
    this.#store = options.store;
    this.#agent = options.agent;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    const tickMs = options.tickMs ?? TICK_MS;
    this.secret = options.secret ?? ((name) => process.env[name]);
    this.#preview = new PreviewTraffic(this.#logger);
    this.#routers = new EnvironmentRouters({ store: this.#store, logger: this.#logger, now: this.#now });
    this.#hold = new StoreHold(this.#logger);
    this.#executor = new ReconcileExecutor({
      store: this.#store,
      logger: this.#logger,
      routers: this.#routers,
      hold: this.#hold,
      release: (service, version) => this.release(service, version),
      secret: (name) => this.secret(name),
    });
    this.#loop = createLoop({
      name: "rollouts",
      intervalMs: () => (this.#health.reachable ? tickMs : AGENT_RETRY_MS),
      tick: (signal) => this.#tick(signal),
      backoff: { initialMs: tickMs, maxMs: ERROR_BACKOFF_MAX_MS },
      onError: (err) => {
        // A store that cannot be read is said once, not on every tick; the next tick tries again.
        if (isStoreUnavailable(err)) this.#hold.failed(err, this.#now());
        else this.#logger.error({ err }, "rollout controller tick failed");
      },
    });
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop.start();
    void this.#followAgentEvents();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#events?.abort();
    await this.#loop.stop();
    this.#preview.stopAll();
    await this.#agent.close();
  }

  /** Plan again as soon as possible (after a deploy or a command). */
  poke(): void {
    this.#loop.poke();
  }

  /** Resolves after one full tick that started after this call (tests and `deploy` use it). */
  settle(): Promise<void> {
    return this.#loop.settle();
  }

  /** Ticks, errors and time spent, for /metrics. */
  stats(): LoopStats {
    return this.#loop.stats();
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
    return this.#views.get(slotKey(service, env));
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

  /** Writes a decision with compare-and-set; a lost race returns undefined (the next tick re-reads). */
  async persist(rollout: Rollout, decision: Decision, actor: string): Promise<Rollout | undefined> {
    const written = await persistDecision(this.#store, this.#logger, rollout, decision, actor);
    if (written !== undefined) this.#hold.recorded(rollout.id, this.#now());
    return written;
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

  async #tick(signal: AbortSignal): Promise<void> {
    const agentState = await this.#readAgent();
    if (agentState === undefined) return;
    const world = await readWorld(this.#store, agentState);
    const now = this.#now();
    const active = new Set([...world.rollouts.values()].map((r) => r.id));
    for (const [k, rollout] of world.rollouts) {
      // While the store refuses writes, decisions are tried again only after a backoff.
      if (this.#hold.waiting(now) || signal.aborted) break;
      const next = await this.#advance(rollout, world, now);
      if (next === undefined) continue;
      if (isFinal(next.status)) world.rollouts.delete(k);
      else world.rollouts.set(k, next);
    }
    if (signal.aborted) return;
    // Slots may have changed with the decisions.
    for (const slot of await this.#store.delivery.listSlots())
      world.slots.set(slotKey(slot.service, slot.env), slot);
    this.#views = await this.#executor.run(await this.#agent.client(), world, now);
    this.#hold.tickDone(active, now, this.#now());
  }

  async #readAgent(): Promise<AgentState | undefined> {
    try {
      const client = await this.#agent.client();
      const state = await client.state();
      if (!this.#health.reachable && this.#lastAgentError !== "") {
        this.#logger.info("node agent reachable again");
      }
      this.#lastAgentError = "";
      this.#health = { reachable: true, lastSeenAt: new Date(this.#now()).toISOString() };
      return state;
    } catch (err) {
      this.#agent.reset();
      const message = clientMessage(err);
      if (message !== this.#lastAgentError) {
        this.#logger.warn({ err }, "node agent unreachable; retrying");
        this.#lastAgentError = message;
      }
      this.#health = { reachable: false, error: message, lastSeenAt: this.#health.lastSeenAt };
      this.#agentLostAt = this.#now();
      return undefined;
    }
  }

  /** Plans one rollout and persists the decision; undefined when nothing changed or the write lost a race. */
  async #advance(rollout: Rollout, world: World, now: number): Promise<Rollout | undefined> {
    const planned = asPlanner(rollout);
    // Time spent waiting for the store is not the rollout's: its clocks move on by it (store-hold.ts).
    const heldMs = this.#hold.heldFor(rollout.id, now);
    planned.state = holdTimers(planned.state, heldMs);
    const instances = world.agentState.instances;
    const observed: Observed = {
      canary: observeRelease(instances, rollout.service, rollout.env, rollout.release),
      stable:
        rollout.previous === null
          ? { ready: 0, total: 0, failed: [] }
          : observeRelease(instances, rollout.service, rollout.env, rollout.previous),
    };
    if (!isFinal(rollout.status) && rollout.status !== "watching") {
      observed.canary.failed.push(...(await crashLooping(() => this.#agent.client(), instances, rollout)));
    }
    const since = windowWanted(planned, now);
    if (since !== undefined) {
      const client = await this.#agent.client();
      const read = (release: string) =>
        trafficWindow(client, rollout.env, rollout.service, release, since).catch((err: unknown) => {
          this.#agentLostAt = this.#now();
          throw err;
        });
      const canary = await read(rollout.release);
      const baseline = rollout.previous === null ? null : await read(rollout.previous);
      const disrupted = windowDisruption(world.agentState, this.#agentLostAt, since, now, [canary, baseline]);
      observed.window = { canary, baseline, end: now, ...(disrupted === undefined ? {} : { disrupted }) };
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
}

/** The parts of a stored rollout the planner reads, its state checked (codecs.ts). */
export function asPlanner(rollout: Rollout): PlannerRollout {
  return {
    strategy: rollout.strategy,
    status: rollout.status,
    release: rollout.release,
    previous: rollout.previous,
    state: decodeStored(RolloutStateCodec, rollout.state, `rollout ${rollout.id}`),
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
