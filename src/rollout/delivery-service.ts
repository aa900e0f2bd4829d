/**
 * What the API offers on top of the controller: deploy (create a release and start its rollout),
 * the rollout commands, rollback, and the release list with each release's state per environment.
 * Every write goes through the store's compare-and-set, then pokes the controller so the agent follows
 * within a tick.
 */
import { join } from "node:path";
import { isFrozen, type ServiceConfig } from "../config/index.js";
import type { EventInput, JsonValue, Release, Rollout, Store, StoredVerdict } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { storeArtifact, type ArtifactLimits } from "../release/index.js";
import { decodeStored, ReleaseConfigCodec, RolloutStateCodec, toStored } from "./codecs.js";
import { applyCommand, rollBackActive, type RolloutCommand } from "./commands.js";
import type { RolloutController, SlotView } from "./controller.js";
import { asPlanner } from "./controller.js";
import { initialState } from "./planner.js";
import { resolvePlanSpec } from "./spec.js";

export const VERSION_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

export interface DeployInput {
  service: string;
  env: string;
  version: string;
  /** Absolute path of the artifact directory on this machine; without it the release must exist. */
  artifact?: string | undefined;
  commit?: string | undefined;
  /** Deploy even inside one of the environment's freeze windows (recorded in the event log). */
  overrideFreeze?: boolean | undefined;
}

export interface ReleaseState {
  env: string;
  /** live: takes all traffic; canary: in a rollout; warm: kept for an instant rollback; previous: the one a rollout replaces. */
  state: "live" | "canary" | "warm" | "previous" | "rolled-back" | "failed" | "retired";
}

export interface ReleaseWithState extends Release {
  environments: ReleaseState[];
}

export interface RolloutDetail {
  rollout: Rollout;
  verdicts: StoredVerdict[];
  live: SlotView | null;
}

export interface DeliveryServiceOptions {
  now?: () => number;
  /** Size and file-count limits of a release artifact (default DEFAULT_ARTIFACT_LIMITS). */
  artifactLimits?: ArtifactLimits | undefined;
}

export class DeliveryService {
  private readonly now: () => number;
  readonly #artifactLimits: ArtifactLimits | undefined;
  /** Aborted by stop(): a deploy copying an artifact gives up and removes its temporary copy. */
  readonly #stopping = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly controller: RolloutController,
    private readonly dataDir: string,
    options: DeliveryServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.#artifactLimits = options.artifactLimits;
  }

  /** Cancels the artifact copies in flight (they answer `server_stopping`); call first when stopping. */
  stop(): void {
    this.#stopping.abort();
  }

  async deploy(
    input: DeployInput,
    actor: string,
  ): Promise<{ release: Release; rollout: Rollout; createdRelease: boolean }> {
    if (!new RegExp(VERSION_PATTERN).test(input.version)) {
      throw new SlipwayError(
        "invalid_request",
        `version ${JSON.stringify(input.version)} is not valid: expected letters, digits and ._- (at most 64), starting with a letter or digit`,
      );
    }
    const { service, storedService, envExists, envFreeze, revision } = await this.#declared(
      input.service,
      input.env,
    );
    const events: EventInput[] = [];
    const frozen = isFrozen(envFreeze, new Date(this.now()));
    if (frozen.frozen) {
      if (input.overrideFreeze !== true) {
        throw new SlipwayError(
          "env_frozen",
          `${input.env} is frozen (${frozen.window ?? ""}) until ${frozen.until?.toISOString() ?? "later"}; nothing was deployed`,
          {
            hint: "wait for the window to end, or override it with --override-freeze (recorded in the event log)",
          },
        );
      }
      events.push({
        type: "deploy.freeze-overridden",
        actor,
        objectKind: "service",
        objectName: input.service,
        payload: { env: input.env, version: input.version, window: frozen.window ?? null },
      });
    }
    // Refuse while the agent cannot be reached: a rollout nobody can carry out would only time out.
    await (await this.controller.agentClient()).state();
    if (!envExists) {
      throw new SlipwayError(
        "not_found",
        `no environment ${JSON.stringify(input.env)} in the applied config`,
        {
          hint: "see `slipway status` for the declared environments",
        },
      );
    }
    const missing = (service.run.secrets ?? []).filter((name) => this.controller.secret(name) === undefined);
    if (missing.length > 0) {
      throw new SlipwayError(
        "invalid_request",
        `secret ${missing.join(", ")} of service ${input.service} is not defined`,
        {
          hint: "set it in the control plane's environment before deploying (an encrypted secret store comes later)",
        },
      );
    }
    let release = await this.store.delivery.getRelease(input.service, input.version);
    let createdRelease = false;
    if (input.artifact !== undefined) {
      if (this.#stopping.signal.aborted) throw stoppedDeploy();
      const artifact = await storeArtifact(input.artifact, {
        releasesDir: join(this.dataDir, "releases"),
        dataDir: this.dataDir,
        service: input.service,
        version: input.version,
        limits: this.#artifactLimits,
        signal: this.#stopping.signal,
      });
      if (release !== undefined && release.artifactHash !== artifact.hash) {
        throw new SlipwayError(
          "release_immutable",
          `release ${input.service} ${input.version} exists with other files (${release.artifactHash.slice(0, 19)}…); releases are immutable`,
          {
            hint: "deploy the new files under a new --version",
          },
        );
      }
      if (release === undefined) {
        const created = await this.store.delivery.createRelease({
          service: input.service,
          version: input.version,
          artifactDir: artifact.dir,
          artifactHash: artifact.hash,
          artifactBytes: artifact.bytes,
          artifactFiles: artifact.files,
          commit: input.commit ?? null,
          // As applied, byte for byte (what decoding would reorder or default stays as it was).
          config: storedService,
          configRevision: revision,
          createdBy: actor,
        });
        release = created.release;
        createdRelease = created.created;
      }
    }
    if (release === undefined) {
      throw new SlipwayError("not_found", `release ${input.service} ${input.version} does not exist`, {
        hint: "pass the build output with --artifact DIR to create it",
      });
    }
    const slot = await this.store.delivery.getSlot(input.service, input.env);
    const previous = slot?.stable ?? null;
    if (previous === input.version) {
      throw new SlipwayError(
        "already_live",
        `${input.service} ${input.version} is already live in ${input.env}`,
        {
          details: { release: input.version },
        },
      );
    }
    const strategy = previous === null ? "initial" : service.rollout.strategy;
    const now = this.now();
    const state = initialState({ strategy, release: input.version, previous }, resolvePlanSpec(service), now);
    const rollout = await this.store.delivery.startRollout(
      {
        service: input.service,
        env: input.env,
        release: input.version,
        previous,
        strategy,
        status: "progressing",
        state: toStored(RolloutStateCodec, state, `the first state of ${input.service} ${input.version}`),
        reason: null,
        createdBy: actor,
      },
      events,
    );
    this.controller.poke();
    return { release, rollout, createdRelease };
  }

  async command(
    service: string,
    env: string,
    command: RolloutCommand,
    actor: string,
    full = false,
  ): Promise<Rollout> {
    const rollout = await this.#latest(service, env);
    const decision = applyCommand(
      { ...asPlanner(rollout), id: rollout.id, service, env },
      command,
      { actor, full },
      this.now(),
    );
    return this.#write(rollout, decision, actor);
  }

  /**
   * Back to the previous release: an unfinished or watching rollout is undone (instantly: the previous
   * release still runs); otherwise a rollback rollout starts for `to`, or for the release the live
   * one replaced. It is instant when that release is still warm, else it starts and then switches.
   */
  async rollback(service: string, env: string, to: string | undefined, actor: string): Promise<Rollout> {
    const latest = (await this.store.delivery.listRollouts({ service, env, limit: 1 }))[0];
    if (
      latest !== undefined &&
      (latest.status === "progressing" || latest.status === "paused" || latest.status === "watching") &&
      (to === undefined || to === latest.previous)
    ) {
      const decision = rollBackActive(
        { ...asPlanner(latest), id: latest.id, service, env },
        actor,
        this.now(),
      );
      return this.#write(latest, decision, actor);
    }
    const { service: config } = await this.#declared(service, env);
    const slot = await this.store.delivery.getSlot(service, env);
    const live = slot?.stable ?? null;
    if (live === null) {
      throw new SlipwayError(
        "nothing_to_roll_back",
        `${service} has no live release in ${env}; nothing to roll back`,
      );
    }
    const target = to ?? (await this.#replacedBy(service, env, live));
    if (target === undefined) {
      throw new SlipwayError(
        "nothing_to_roll_back",
        `${service} ${live} is the only release deployed to ${env}; nothing to roll back to`,
        {
          hint: "name a release with --to VERSION",
        },
      );
    }
    if (target === live)
      throw new SlipwayError("already_live", `${service} ${target} is already live in ${env}`);
    if ((await this.store.delivery.getRelease(service, target)) === undefined) {
      throw new SlipwayError("not_found", `release ${service} ${target} does not exist`, {
        hint: "see `slipway releases`",
      });
    }
    const now = this.now();
    const state = initialState(
      { strategy: "rollback", release: target, previous: live },
      resolvePlanSpec(config),
      now,
    );
    const rollout = await this.store.delivery.startRollout({
      service,
      env,
      release: target,
      previous: live,
      strategy: "rollback",
      status: "progressing",
      state: toStored(RolloutStateCodec, state, `the first state of the rollback to ${target}`),
      reason: `rollback from ${live}, requested by ${actor}`,
      createdBy: actor,
    });
    await this.controller.settle();
    return rollout;
  }

  async detail(service: string, env: string, verdictLimit = 20): Promise<RolloutDetail> {
    const rollout = await this.#latest(service, env);
    return this.detailOf(rollout, verdictLimit);
  }

  async detailOf(rollout: Rollout, verdictLimit = 20): Promise<RolloutDetail> {
    const verdicts =
      verdictLimit === 0 ? [] : await this.store.delivery.listVerdicts(rollout.id, { limit: verdictLimit });
    return { rollout, verdicts, live: this.controller.view(rollout.service, rollout.env) ?? null };
  }

  async releases(service: string, env?: string): Promise<ReleaseWithState[]> {
    const [releases, slots, rollouts] = await Promise.all([
      this.store.delivery.listReleases(service),
      this.store.delivery.listSlots(),
      this.store.delivery.listRollouts({ service, limit: 1000 }),
    ]);
    const mySlots = slots.filter((s) => s.service === service && (env === undefined || s.env === env));
    const now = this.now();
    return releases.map((release) => ({
      ...release,
      environments: mySlots.flatMap((slot): ReleaseState[] => {
        const v = release.version;
        const active = rollouts.find(
          (r) => r.env === slot.env && (r.status === "progressing" || r.status === "paused"),
        );
        if (active?.release === v) return [{ env: slot.env, state: "canary" }];
        if (active?.previous === v) return [{ env: slot.env, state: "previous" }];
        if (slot.stable === v) return [{ env: slot.env, state: "live" }];
        if (slot.warm.some((w) => w.version === v && Date.parse(w.until) > now))
          return [{ env: slot.env, state: "warm" }];
        const last = rollouts.find((r) => r.env === slot.env && r.release === v);
        if (last === undefined) return [];
        if (last.status === "rolled-back" || last.status === "aborted")
          return [{ env: slot.env, state: "rolled-back" }];
        if (last.status === "failed") return [{ env: slot.env, state: "failed" }];
        return [{ env: slot.env, state: "retired" }];
      }),
    }));
  }

  async #write(rollout: Rollout, decision: ReturnType<typeof applyCommand>, actor: string): Promise<Rollout> {
    const written = await this.controller.persist(rollout, decision, actor);
    if (written === undefined) {
      throw new SlipwayError(
        "stale_write",
        `rollout ${rollout.id} changed while the command was applied; nothing was changed`,
        {
          hint: "run the command again",
        },
      );
    }
    // Traffic has moved when the answer comes: the next tick, which applies this decision, has run.
    await this.controller.settle();
    return written;
  }

  async #latest(service: string, env: string): Promise<Rollout> {
    const latest = (await this.store.delivery.listRollouts({ service, env, limit: 1 }))[0];
    if (latest === undefined) {
      throw new SlipwayError("not_found", `no rollout of ${service} in ${env} yet`, {
        hint: `deploy one with \`slipway deploy ${service} --env ${env} --version V --artifact DIR\``,
      });
    }
    return latest;
  }

  /** The release the live one replaced: the `previous` of the rollout that made it live. */
  async #replacedBy(service: string, env: string, live: string): Promise<string | undefined> {
    const rollouts = await this.store.delivery.listRollouts({ service, env, limit: 1000 });
    const made = rollouts.find(
      (r) => r.release === live && (r.status === "succeeded" || r.status === "watching"),
    );
    return made?.previous ?? undefined;
  }

  async #declared(
    serviceName: string,
    env: string,
  ): Promise<{
    service: ServiceConfig;
    storedService: JsonValue;
    envExists: boolean;
    envFreeze: string[];
    revision: number;
  }> {
    const [objects, revision] = await Promise.all([
      this.store.config.listObjects(),
      this.store.config.currentRevision(),
    ]);
    const service = objects.find((o) => o.kind === "service" && o.name === serviceName);
    if (service === undefined) {
      const names = objects.filter((o) => o.kind === "service").map((o) => o.name);
      throw new SlipwayError("not_found", `no service ${JSON.stringify(serviceName)} in the applied config`, {
        hint: names.length === 0 ? "apply a slipway.yaml first" : `declared services: ${names.join(", ")}`,
      });
    }
    const envObject = objects.find((o) => o.kind === "environment" && o.name === env);
    const envFreeze =
      (envObject?.spec as { protection?: { freeze?: string[] } } | undefined)?.protection?.freeze ?? [];
    return {
      service: decodeStored(ReleaseConfigCodec, service.spec, `service ${serviceName} in the applied config`),
      storedService: service.spec,
      envExists: envObject !== undefined,
      envFreeze,
      revision,
    };
  }
}

function stoppedDeploy(): SlipwayError {
  return new SlipwayError("server_stopping", "the control plane is stopping; nothing was deployed", {
    hint: "deploy again once the control plane is back",
  });
}
