/**
 * The executor of reconcile.ts: performs its actions on the agent, in order, awaiting each, and feeds
 * what they changed (the started instances, the tables the agent acknowledged, the stops in flight)
 * back into the decision until it asks for nothing more. No decision is taken here; what can go wrong
 * with the agent becomes a log line or a router problem, and the next tick decides again.
 *
 * Stops run in the background, tracked as in flight: a stop waits up to the instance's stop timeout,
 * and the rest of the control plane must not wait with it.
 */
import type { Logger } from "pino";
import type { AgentClient } from "../agent/index.js";
import type { InstanceStatus } from "../runtime/index.js";
import type { Release, Store } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { ReleaseConfigCodec } from "./codecs.js";
import type { SlotView, World } from "./controller-types.js";
import { instanceSpecFor } from "./instance-spec.js";
import {
  desiredWorld,
  expiredWarm,
  reconcile,
  slotViews,
  wantedTables,
  type ReconcileAction,
  type ReconcileInput,
  type WantedInstance,
} from "./reconcile.js";
import type { EnvironmentRouters } from "./routers.js";
import { isStoreUnavailable, type StoreHold } from "./store-hold.js";

/** Start, route, stop, and one pass to find nothing left: more means the decision does not converge. */
const MAX_PASSES = 4;

export interface ReconcileExecutorOptions {
  store: Store;
  logger: Logger;
  routers: EnvironmentRouters;
  hold: StoreHold;
  release: (service: string, version: string) => Promise<Release | undefined>;
  secret: (name: string) => string | undefined;
}

export class ReconcileExecutor {
  readonly #starting = new Set<string>();
  readonly #stopping = new Set<string>();

  constructor(private readonly options: ReconcileExecutorOptions) {}

  /** Makes the agent match `world`; answers what each slot runs now. */
  async run(client: AgentClient, world: World, now: number): Promise<Map<string, SlotView>> {
    const desired = desiredWorld(world, now);
    let input: ReconcileInput = {
      desired,
      services: world.services,
      environments: world.environments,
      instances: world.agentState.instances,
      agentEnvs: world.agentState.environments,
      starting: new Set(this.#starting),
      stopping: this.#stopping,
      routed: false,
    };
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const actions = reconcile(input);
      if (actions.length === 0) break;
      input = await this.#perform(client, actions, input);
    }
    // Problems of listeners no longer declared, or in place again without a put, are cleared.
    await this.options.routers.note(input.agentEnvs, wantedTables(input));
    await this.#retireWarm(world, now);
    return slotViews(desired, world.slots, input.instances);
  }

  async #perform(
    client: AgentClient,
    actions: readonly ReconcileAction[],
    input: ReconcileInput,
  ): Promise<ReconcileInput> {
    let next = input;
    // Starts are independent of each other: all at once, each awaited.
    const starts = actions.flatMap((a) => (a.kind === "start-instance" ? [a.instance] : []));
    if (starts.length > 0) {
      const started: InstanceStatus[] = [];
      await Promise.all(
        starts.map(async (instance) => {
          const status = await this.#start(client, instance);
          if (status !== undefined) started.push(status);
        }),
      );
      next = {
        ...next,
        instances: [...next.instances.filter((i) => !started.some((s) => s.id === i.id)), ...started],
        starting: new Set([...next.starting, ...starts.map((s) => s.id)]),
      };
    }
    for (const action of actions) {
      if (action.kind === "put-routes") {
        const agentEnvs = await this.options.routers.apply(client, next.agentEnvs, action.steps);
        next = { ...next, agentEnvs, routed: true };
      } else if (action.kind === "stop-instance") {
        this.#stop(client, action.id);
      }
    }
    return next;
  }

  async #start(client: AgentClient, instance: WantedInstance): Promise<InstanceStatus | undefined> {
    this.#starting.add(instance.id);
    try {
      const release = await this.options.release(instance.service, instance.version);
      if (release === undefined) {
        this.options.logger.error({ instance: instance.id }, "no such release; cannot start instance");
        return undefined;
      }
      const config = ReleaseConfigCodec.decode(
        release.config,
        `release ${release.service} ${release.version}`,
      );
      return await client.startInstance(instanceSpecFor(instance, release, config, this.options.secret));
    } catch (err) {
      this.options.logger.error({ err, instance: instance.id }, "could not start instance");
      return undefined;
    } finally {
      this.#starting.delete(instance.id);
    }
  }

  #stop(client: AgentClient, id: string): void {
    this.#stopping.add(id);
    client
      .stopInstance(id)
      .catch((err: unknown) => {
        if (!(err instanceof SlipwayError && err.code === "not_found")) {
          this.options.logger.error({ err, instance: id }, "could not stop instance");
        }
      })
      .finally(() => {
        this.#stopping.delete(id);
      });
  }

  async #retireWarm(world: World, now: number): Promise<void> {
    for (const { slot, keep, gone } of expiredWarm(world.slots, world.rollouts, now)) {
      try {
        await this.options.store.delivery.updateSlot(
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
          this.options.hold.failed(err, now);
          return;
        }
        if (!(err instanceof SlipwayError && err.code === "stale_write")) throw err;
      }
    }
  }
}
