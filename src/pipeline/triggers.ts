/**
 * What starts pipeline runs, besides a rerun: pushes (webhooks, the local git hooks, the poller),
 * schedules, and people (the API). Everything ends in `engine.startRun`.
 *
 * - Pushes: `onPush` starts every applied pipeline whose `on.push` matches (GitHub Actions semantics,
 *   webhooks/filter.ts), as trigger kind `push` with actor `<provider>:<pusher>`. For a local push the
 *   changed paths come from git (`git diff --name-only before after`; for a new ref, the tip commit's
 *   files, complete only for a root commit). A deleted ref starts nothing.
 * - Schedules: one croner job per `on.schedule` entry, rebuilt at start and on every `config.applied`
 *   event; cron read in the entry's time zone, Vixie semantics (either restricted day field matches).
 *   A fire starts a run of kind `schedule`, actor `system:schedule`, on the default branch of the one
 *   watched repository. With several repositories watched, the run names none (`repository: null`) and
 *   the engine fails it with a clear message: schedules do not say which repository they build. Fires
 *   missed while the control plane was down are not made up.
 * - Polling: repositories watched by URL are asked every 30 s (`git ls-remote --heads --tags`); each
 *   ref that moved is a push with unknown changed paths, so path filters match (running once too often
 *   beats skipping a change). The first poll of a repository with no recorded heads only records them.
 *   Each polled change is recorded as delivery `poll:<repository>:<sha>:<ref>`, so two replicas or a restart never
 *   start it twice. Actor `system:poll`.
 * - By hand: `startManual` checks inputs against `on.manual.inputs` (types, required, choices;
 *   defaults applied; an unknown input is an error) and resolves the ref to a commit in the repository.
 *   A pipeline without `on.manual` can still be started through the API, as trigger kind `api` (it then
 *   takes no inputs).
 *
 * Declared inputs' defaults apply to every run, also those started by a push or a schedule.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { Cron } from "croner";
import type { Logger } from "pino";
import type { DataKey } from "../secrets/index.js";
import {
  deliveryReplayed,
  type DeliveryClaim,
  type PipelineRun,
  type PipelineTrigger,
  type Store,
  type StoredEvent,
  type TriggerKind,
  type WatchedRepository,
} from "../store/index.js";
import { SlipwayError } from "../util/errors.js";
import type { PipelineEngine } from "./engine-types.js";
import { gitEnv } from "./hook-script.js";
import { RepositoryKeeper, type AddedRepository, type AddRepositoryInput } from "./repositories.js";
import type { PipelineSpec } from "./spec.js";
import { explainPushMatch, type PushEvent, type WebhookProvider } from "./webhooks/index.js";

const exec = promisify(execFile);

export const POLL_INTERVAL_MS = 30_000;
export const ZERO_ID = "0".repeat(40);

export type InputValue = string | number | boolean;
export type PushSource = WebhookProvider | "local" | "poll";

/** A push as the triggers read it: a webhook's PushEvent, or one from a local hook or the poller. */
export interface TriggerPush {
  provider: PushSource;
  /** Replay protection: with a delivery id, the push is recorded with the runs it starts. */
  deliveryId: string | undefined;
  /** SHA-256 (hex) of the body a signature covered; the same body twice is a replay. */
  bodyHash?: string | null;
  /** `refs/heads/main`, `refs/tags/v1.2.0`. */
  ref: string;
  branch?: string;
  tag?: string;
  /** The commit to build; all zeros when the ref was deleted. */
  sha: string;
  before: string;
  pusher: string;
  changedPaths: string[];
  changedPathsComplete: boolean;
  deleted: boolean;
  created: boolean;
}

export interface PushOutcome {
  runs: PipelineRun[];
  /** Why nothing started, when nothing did: "no pipeline matches branch feature/x". */
  reason?: string;
  /** Each pipeline with an `on.push` that did not start, and why. */
  skipped: { pipeline: string; reason: string }[];
}

export interface ManualRunInput {
  pipeline: string;
  actor: string;
  /** `refs/heads/x`, `refs/tags/y`, or a bare branch name. */
  ref?: string | undefined;
  sha?: string | undefined;
  /** A watched repository's id or name; needed when several are watched. */
  repository?: string | undefined;
  inputs?: Record<string, InputValue> | undefined;
}

export interface ScheduleView {
  pipeline: string;
  cron: string;
  timezone: string;
  nextRun: string | null;
}

export type { AddedRepository, AddRepositoryInput } from "./repositories.js";

export interface Triggers {
  /** Schedules, polling, and a refresh of installed hooks to `serverUrl`. */
  start(options?: { serverUrl?: string | undefined }): Promise<void>;
  stop(): Promise<void>;
  /** The control plane's URL as given to start(), for hooks and webhook URLs. */
  readonly serverUrl: string | undefined;
  /**
   * Starts the pipelines a push matches. A push with a delivery id that was seen before (or whose
   * signed body was) throws `webhook_replayed` and starts nothing; the delivery is recorded with the
   * runs it starts (or alone when it starts none), never when starting them failed.
   */
  onPush(push: TriggerPush, repository: WatchedRepository): Promise<PushOutcome>;
  /** A repository's webhook secret, opened; `secret_unreadable` when the data key cannot. */
  webhookSecret(repository: WatchedRepository): string;
  /** A local hook's ref update, with changed paths from git. */
  readLocalPush(
    repository: WatchedRepository,
    update: { before: string; after: string; ref: string },
    pusher: string,
  ): Promise<TriggerPush>;
  startManual(input: ManualRunInput): Promise<PipelineRun>;
  /**
   * Checks the location (a path must be a git repository), stores it with its webhook secret sealed,
   * and installs the local hooks with their own token.
   */
  addRepository(input: AddRepositoryInput): Promise<AddedRepository>;
  /** Removes the local hooks (putting chained ones back), then the repository. */
  removeRepository(idOrName: string, actor: string): Promise<WatchedRepository>;
  rebuildSchedules(): Promise<void>;
  schedules(): ScheduleView[];
  /** One round of polling (tests; the timer calls it every 30 s). */
  pollOnce(): Promise<void>;
}

export interface TriggersOptions {
  store: Store;
  engine: PipelineEngine;
  logger: Logger;
  /** Seals and opens the repositories' webhook secrets. */
  dataKey: DataKey;
  serverUrl?: string;
  now?: () => number;
  /** Default 30 s; 0 turns polling off. */
  pollIntervalMs?: number;
}

export function createTriggers(options: TriggersOptions): Triggers {
  return new TriggerSet(options);
}

// ---------------------------------------------------------------------------------------------------
// Pure helpers.

/** A ref as the trigger records it: `refs/heads/x` and a bare `x` are branches, `refs/tags/y` a tag. */
export function refFields(ref: string): { ref: string; branch: string | null; tag: string | null } {
  if (ref.startsWith("refs/heads/")) return { ref, branch: ref.slice(11), tag: null };
  if (ref.startsWith("refs/tags/")) return { ref, branch: null, tag: ref.slice(10) };
  if (ref.startsWith("refs/")) {
    throw new SlipwayError(
      "invalid_request",
      `ref ${ref} is neither a branch (refs/heads/…) nor a tag (refs/tags/…)`,
    );
  }
  return { ref: `refs/heads/${ref}`, branch: ref, tag: null };
}

type DeclaredInput = NonNullable<NonNullable<NonNullable<PipelineSpec["on"]>["manual"]>["inputs"]>[string];

/** Declared inputs' defaults, for runs nobody gave inputs to (pushes, schedules). */
export function defaultInputs(spec: PipelineSpec): Record<string, InputValue> {
  const out: Record<string, InputValue> = {};
  for (const [name, input] of Object.entries(spec.on?.manual?.inputs ?? {})) {
    const value = input.default;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      out[name] = value;
    }
  }
  return out;
}

/**
 * The inputs of a run started by hand: each given value checked against its declaration (string,
 * boolean — also "true"/"false" —, number, choice among `options`), defaults filled in, required ones
 * demanded. An undeclared input is an error naming it.
 *
 * @throws SlipwayError("invalid_request") with `details: [{ input, message }]`.
 */
export function validateInputs(
  pipeline: string,
  declared: Record<string, DeclaredInput>,
  given: Record<string, InputValue>,
): Record<string, InputValue> {
  const errors: { input: string; message: string }[] = [];
  const out: Record<string, InputValue> = {};
  const names = Object.keys(declared);
  for (const [name, value] of Object.entries(given)) {
    const input = declared[name];
    if (input === undefined) {
      errors.push({
        input: name,
        message:
          names.length === 0
            ? `pipeline ${pipeline} takes no inputs`
            : `pipeline ${pipeline} has no input ${name}; its inputs are ${names.join(", ")}`,
      });
      continue;
    }
    const checked = checkInput(input, value);
    if (typeof checked === "object") errors.push({ input: name, message: checked.error });
    else out[name] = checked;
  }
  for (const [name, input] of Object.entries(declared)) {
    if (name in out || name in given) continue;
    const fallback = input.default;
    if (typeof fallback === "string" || typeof fallback === "number" || typeof fallback === "boolean") {
      out[name] = fallback;
    } else if (input.required === true) {
      errors.push({ input: name, message: `input ${name} is required` });
    }
  }
  const first = errors[0];
  if (first !== undefined) {
    const text =
      first.message.startsWith("input ") || first.message.startsWith("pipeline ")
        ? first.message
        : `input ${first.input}: ${first.message}`;
    throw new SlipwayError(
      "invalid_request",
      errors.length > 1 ? `${text} (and ${errors.length - 1} more)` : text,
      { details: errors },
    );
  }
  return out;
}

function checkInput(input: DeclaredInput, value: InputValue): InputValue | { error: string } {
  switch (input.type) {
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      return { error: `expected true or false, got ${JSON.stringify(value)}` };
    case "number": {
      const n =
        typeof value === "number"
          ? value
          : typeof value === "string" && value.trim() !== ""
            ? Number(value)
            : NaN;
      return Number.isFinite(n) ? n : { error: `expected a number, got ${JSON.stringify(value)}` };
    }
    case "choice": {
      const text = String(value);
      const options = input.options ?? [];
      return options.includes(text)
        ? text
        : { error: `${JSON.stringify(text)} is not one of the options: ${options.join(", ")}` };
    }
    default:
      if (typeof value === "string") return value;
      return { error: `expected text, got ${JSON.stringify(value)}` };
  }
}

/** `git ls-remote` output → ref → commit (an annotated tag's peeled commit, not the tag object). */
export function parseLsRemote(text: string): Record<string, string> {
  const heads: Record<string, string> = {};
  const peeled: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const [sha, ref] = line.trim().split(/\s+/);
    if (sha === undefined || ref === undefined || !/^[0-9a-f]{40,64}$/.test(sha)) continue;
    if (ref.endsWith("^{}")) peeled[ref.slice(0, -3)] = sha;
    else if (ref.startsWith("refs/heads/") || ref.startsWith("refs/tags/")) heads[ref] = sha;
  }
  for (const [ref, sha] of Object.entries(peeled)) if (ref in heads) heads[ref] = sha;
  return heads;
}

/**
 * The delivery id of a push Slipway saw itself (local hook, poller): `local:<repository>:<sha>:<ref>`.
 * The repository is part of it because the same commit can reach two watched repositories (a commit
 * in a working repository, then a push of it into a watched bare one), and each should start runs.
 */
export function pushDeliveryId(
  source: "local" | "poll",
  repositoryId: string,
  sha: string,
  ref: string,
): string {
  return `${source}:${repositoryId}:${sha}:${ref}`;
}

export function isZeroId(id: string): boolean {
  return /^0+$/.test(id);
}

// ---------------------------------------------------------------------------------------------------
// git.

async function git(args: string[], timeoutMs = 15_000, signal?: AbortSignal): Promise<string> {
  try {
    const { stdout } = await exec("git", args, {
      ...(signal === undefined ? {} : { signal }),
      env: gitEnv(),
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string; killed?: boolean };
    const why =
      e.killed === true
        ? `no answer within ${timeoutMs / 1000} s`
        : (e.stderr !== undefined && e.stderr.trim() !== "" ? e.stderr : e.message).trim();
    throw new Error(
      `git ${args
        .filter((a) => a !== "-C")
        .slice(1, 3)
        .join(" ")}: ${why.split("\n").slice(-3).join(" ")}`,
    );
  }
}

async function gitOrUndefined(args: string[]): Promise<string | undefined> {
  try {
    return await git(args);
  } catch {
    return undefined;
  }
}

/** Refs that are safe to hand to git: no option look-alikes, nothing git refuses in a ref. */
export function isSafeRef(ref: string): boolean {
  if (ref === "" || ref.length > 1024 || ref.startsWith("-") || ref.includes("..") || ref.includes("//")) {
    return false;
  }
  if (/[\s~^:?*[\\]/.test(ref) || ref.endsWith("/") || ref.endsWith(".lock") || ref.endsWith("."))
    return false;
  for (let i = 0; i < ref.length; i += 1) {
    const code = ref.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------

interface ScheduleJob {
  pipeline: string;
  cron: string;
  timezone: string;
  job: Cron;
}

interface Applied {
  name: string;
  spec: PipelineSpec;
}

/**
 * One croner job for a schedule entry. `pattern` is a 5-field cron (config validation allows no more);
 * croner also reads 6 fields with seconds first, which tests use. The callback gets the planned time.
 */
export function createScheduleJob(
  entry: { cron: string; timezone?: string | undefined },
  fire: (plannedAt: Date) => void,
  onError: (err: unknown) => void,
  now: () => number = Date.now,
): Cron {
  let planned: Date | null = null;
  const job = new Cron(
    entry.cron,
    {
      timezone: entry.timezone ?? "UTC",
      legacyMode: true,
      unref: true,
      protect: false,
      catch: (err) => {
        onError(err);
      },
    },
    () => {
      const at = planned ?? new Date(now());
      planned = job.nextRun();
      fire(at);
    },
  );
  planned = job.nextRun();
  return job;
}

class TriggerSet implements Triggers {
  readonly #o: TriggersOptions;
  #serverUrl: string | undefined;
  #jobs: ScheduleJob[] = [];
  #unsubscribe: (() => void) | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #rebuilding: Promise<void> = Promise.resolve();
  /** Repositories polled at least once by this process. */
  readonly #polled = new Set<string>();
  /** The last poll error per repository, logged once until it changes. */
  readonly #pollErrors = new Map<string, string>();
  #started = false;
  #stopping = new AbortController();

  readonly #repositories: RepositoryKeeper;

  constructor(options: TriggersOptions) {
    this.#o = options;
    this.#serverUrl = options.serverUrl;
    this.#repositories = new RepositoryKeeper({
      store: options.store,
      dataKey: options.dataKey,
      logger: options.logger,
      checkLocation,
    });
  }

  #isStopping(): boolean {
    return this.#stopping.signal.aborted;
  }

  get serverUrl(): string | undefined {
    return this.#serverUrl;
  }

  get #now(): () => number {
    return this.#o.now ?? Date.now;
  }

  async start(options: { serverUrl?: string | undefined } = {}): Promise<void> {
    if (options.serverUrl !== undefined) this.#serverUrl = options.serverUrl;
    this.#started = true;
    this.#stopping = new AbortController();
    this.#unsubscribe = this.#o.store.events.subscribe((event: StoredEvent) => {
      if (event.type === "config.applied") void this.rebuildSchedules();
    });
    await this.rebuildSchedules();
    await this.#repositories.prepare(this.#serverUrl);
    const every = this.#o.pollIntervalMs ?? POLL_INTERVAL_MS;
    if (every > 0) {
      this.#pollTimer = setInterval(() => void this.pollOnce(), every);
      this.#pollTimer.unref();
      void this.pollOnce();
    }
  }

  async stop(): Promise<void> {
    this.#started = false;
    // A poll may wait on a slow remote: kill its git rather than hold the shutdown.
    this.#stopping.abort();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#pollTimer);
    for (const s of this.#jobs) s.job.stop();
    this.#jobs = [];
    await this.#rebuilding;
    await this.#polling;
  }

  // ---- pushes -----------------------------------------------------------------------------------

  async onPush(push: TriggerPush, repository: WatchedRepository): Promise<PushOutcome> {
    const delivery = await this.#claim(push, repository);
    const { failed, ...outcome } = await this.#startMatching(push, repository, delivery);
    if (delivery !== undefined && outcome.runs.length === 0 && !failed) {
      // Nothing started and nothing failed to: record the delivery alone, so that a replay is refused.
      // (Runs record it in their own transaction; a failure leaves it unrecorded, to be redelivered.)
      if (!(await this.#o.store.pipelines.recordDelivery(delivery))) await this.#refuseReplay(delivery);
    }
    this.#o.logger.info(
      {
        repository: repository.name,
        ref: push.ref,
        sha: push.sha,
        provider: push.provider,
        runs: outcome.runs.map((r) => r.id),
      },
      outcome.runs.length === 0 ? "push started no pipeline" : "push started pipeline runs",
    );
    return outcome;
  }

  /** The delivery this push records, after checking it is not a replay; undefined without an id. */
  async #claim(push: TriggerPush, repository: WatchedRepository): Promise<DeliveryClaim | undefined> {
    if (push.deliveryId === undefined) return undefined;
    const delivery: DeliveryClaim = {
      provider: push.provider,
      deliveryId: push.deliveryId,
      repository: repository.id,
      bodyHash: push.bodyHash ?? null,
      claim: randomUUID(),
    };
    await this.#refuseReplay(delivery, false);
    return delivery;
  }

  /** Throws `webhook_replayed` when the delivery was seen (always, when `certain`: a write said so). */
  async #refuseReplay(delivery: DeliveryClaim, certain = true): Promise<void> {
    const seen = await this.#o.store.pipelines.findDelivery(delivery);
    if (seen !== undefined) throw deliveryReplayed(delivery, seen);
    if (certain) {
      throw new SlipwayError("webhook_replayed", `delivery ${delivery.deliveryId} was processed already`);
    }
  }

  async #startMatching(
    push: TriggerPush,
    repository: WatchedRepository,
    delivery: DeliveryClaim | undefined,
  ): Promise<PushOutcome & { failed: boolean }> {
    const what =
      push.tag !== undefined
        ? `tag ${push.tag}`
        : push.branch !== undefined
          ? `branch ${push.branch}`
          : push.ref;
    const none = (reason: string) => ({ runs: [], reason, skipped: [], failed: false });
    if (push.deleted) return none(`${what} was deleted; a deletion starts nothing`);
    const pipelines = (await this.#applied()).filter((p) => p.spec.on?.push !== undefined);
    if (pipelines.length === 0) return none("no pipeline has an on.push trigger");
    // filter.ts reads only ref, branch, tag, deleted and the changed paths, which every push has.
    const event = push as unknown as PushEvent;
    const runs: PipelineRun[] = [];
    const skipped: PushOutcome["skipped"] = [];
    let failed = false;
    for (const { name, spec } of pipelines) {
      const match = explainPushMatch(spec.on?.push ?? {}, event);
      if (!match.matched) {
        skipped.push({ pipeline: name, reason: match.reason });
        continue;
      }
      const trigger: PipelineTrigger = {
        kind: "push",
        actor: push.provider === "poll" ? "system:poll" : `${push.provider}:${push.pusher}`,
        ref: push.ref,
        sha: push.sha,
        branch: push.branch ?? null,
        tag: push.tag ?? null,
        repository: repository.id,
        inputs: defaultInputs(spec),
        changedPaths: push.changedPaths,
        ...(delivery === undefined ? {} : { deliveryId: delivery.deliveryId, delivery }),
      };
      try {
        runs.push(await this.#o.engine.startRun({ pipeline: name, trigger }));
      } catch (err) {
        // A replay that won a race with this attempt, or a fault: not a reason to skip one pipeline.
        if (!(err instanceof SlipwayError) || err.code === "webhook_replayed") throw err;
        skipped.push({ pipeline: name, reason: err.message });
        failed = true;
      }
    }
    if (runs.length > 0) return { runs, skipped, failed };
    return { runs, skipped, reason: `no pipeline matches ${what}`, failed };
  }

  async readLocalPush(
    repository: WatchedRepository,
    update: { before: string; after: string; ref: string },
    pusher: string,
  ): Promise<TriggerPush> {
    const { before, after, ref } = update;
    const deleted = isZeroId(after);
    const created = isZeroId(before);
    const push: TriggerPush = {
      provider: "local",
      deliveryId: pushDeliveryId("local", repository.id, after, ref),
      ref,
      sha: after,
      before,
      pusher,
      changedPaths: [],
      changedPathsComplete: deleted,
      deleted,
      created,
    };
    if (ref.startsWith("refs/heads/")) push.branch = ref.slice(11);
    else if (ref.startsWith("refs/tags/")) push.tag = ref.slice(10);
    if (deleted || repository.kind !== "path") return push;
    const loc = repository.location;
    try {
      if (created) {
        const files = await git(["-C", loc, "show", "--name-only", "--format=", after, "--"]);
        push.changedPaths = lines(files);
        // Complete only for a root commit; a new branch may carry more commits than its tip.
        const parents = await git(["-C", loc, "rev-list", "--parents", "-n", "1", after]);
        push.changedPathsComplete = parents.split(/\s+/).length === 1;
      } else {
        push.changedPaths = lines(await git(["-C", loc, "diff", "--name-only", before, after, "--"]));
        push.changedPathsComplete = true;
      }
      // A tag push peels to its commit (an annotated tag's object is not a commit).
      if (push.tag !== undefined) {
        push.sha =
          (await gitOrUndefined(["-C", loc, "rev-parse", "--verify", "-q", `${after}^{commit}`])) ?? after;
      }
    } catch (err) {
      this.#o.logger.warn(
        { err, repository: repository.name, ref },
        "could not list the paths a push changed",
      );
    }
    return push;
  }

  // ---- by hand ----------------------------------------------------------------------------------

  async startManual(input: ManualRunInput): Promise<PipelineRun> {
    const pipeline = (await this.#applied()).find((p) => p.name === input.pipeline);
    if (pipeline === undefined) {
      const names = (await this.#applied()).map((p) => p.name);
      throw new SlipwayError(
        "not_found",
        `no pipeline ${JSON.stringify(input.pipeline)} in the applied config`,
        {
          hint:
            names.length === 0
              ? "declare one under pipelines: in slipway.yaml and apply it"
              : `declared pipelines: ${names.join(", ")}`,
        },
      );
    }
    const { spec } = pipeline;
    const kind: TriggerKind = spec.on?.manual === undefined ? "api" : "manual";
    const inputs = validateInputs(pipeline.name, spec.on?.manual?.inputs ?? {}, input.inputs ?? {});
    const repository = await this.#repositoryFor(input.repository);
    if (input.ref !== undefined && !isSafeRef(input.ref)) {
      throw new SlipwayError("invalid_request", `ref ${JSON.stringify(input.ref)} is not a valid git ref`);
    }
    const named = input.ref === undefined ? undefined : refFields(input.ref);
    let sha = input.sha?.toLowerCase() ?? null;
    let ref = named ?? { ref: null, branch: null, tag: null };
    if (sha !== null && repository.kind === "path") {
      const full = await gitOrUndefined([
        "-C",
        repository.location,
        "rev-parse",
        "--verify",
        "-q",
        `${sha}^{commit}`,
      ]);
      if (full === undefined) {
        throw new SlipwayError("invalid_request", `commit ${sha} is not in repository ${repository.name}`);
      }
      sha = full;
    } else if (sha === null && named !== undefined) {
      sha = await this.#resolveRef(repository, named.ref);
    } else if (sha === null) {
      const head = await this.#defaultHead(repository);
      ref = head.ref === null ? ref : refFields(head.ref);
      sha = head.sha;
    }
    return this.#o.engine.startRun({
      pipeline: pipeline.name,
      trigger: {
        kind,
        actor: input.actor,
        ref: ref.ref,
        sha,
        branch: ref.branch,
        tag: ref.tag,
        repository: repository.id,
        inputs,
      },
    });
  }

  async #repositoryFor(idOrName: string | undefined): Promise<WatchedRepository> {
    if (idOrName !== undefined) {
      const found = await this.#o.store.pipelines.findRepository(idOrName);
      if (found === undefined) throw new SlipwayError("not_found", `no watched repository ${idOrName}`);
      return found;
    }
    const repos = await this.#o.store.pipelines.listRepositories();
    const only = repos[0];
    if (only !== undefined && repos.length === 1) return only;
    if (repos.length === 0) {
      throw new SlipwayError(
        "invalid_request",
        "no repository is watched, so there is nothing to check out",
        {
          hint: "add one with `slipway repo add PATH|URL` (POST /api/v1/repositories)",
        },
      );
    }
    throw new SlipwayError(
      "invalid_request",
      `several repositories are watched (${repos.map((r) => r.name).join(", ")}); name one with repository`,
    );
  }

  /** The commit a branch or tag names in the repository. */
  async #resolveRef(repository: WatchedRepository, ref: string): Promise<string> {
    const what = ref.startsWith("refs/tags/")
      ? `tag ${ref.slice(10)}`
      : `branch ${ref.replace(/^refs\/heads\//, "")}`;
    if (repository.kind === "path") {
      const sha = await gitOrUndefined([
        "-C",
        repository.location,
        "rev-parse",
        "--verify",
        "-q",
        `${ref}^{commit}`,
      ]);
      if (sha === undefined)
        throw new SlipwayError("invalid_request", `${what} is not in repository ${repository.name}`);
      return sha;
    }
    let heads: Record<string, string>;
    try {
      heads = parseLsRemote(await git(["ls-remote", "--", repository.location, ref]));
    } catch (err) {
      throw new SlipwayError(
        "invalid_request",
        `cannot read ${what} of repository ${repository.name}: ${(err as Error).message}`,
      );
    }
    const sha = heads[ref];
    if (sha === undefined)
      throw new SlipwayError("invalid_request", `${what} is not in repository ${repository.name}`);
    return sha;
  }

  /** The default branch and its commit; nulls when git cannot tell (the engine then builds HEAD). */
  async #defaultHead(repository: WatchedRepository): Promise<{ ref: string | null; sha: string | null }> {
    if (repository.kind === "path") {
      const ref = (await gitOrUndefined(["-C", repository.location, "symbolic-ref", "-q", "HEAD"])) ?? null;
      const sha =
        (await gitOrUndefined(["-C", repository.location, "rev-parse", "--verify", "-q", "HEAD^{commit}"])) ??
        null;
      return { ref: ref?.startsWith("refs/heads/") === true ? ref : null, sha };
    }
    const text = await gitOrUndefined(["ls-remote", "--symref", "--", repository.location, "HEAD"]);
    if (text === undefined) return { ref: null, sha: null };
    const ref = /^ref:\s+(refs\/heads\/\S+)\s+HEAD$/m.exec(text)?.[1] ?? null;
    const sha = /^([0-9a-f]{40,64})\s+HEAD$/m.exec(text)?.[1] ?? null;
    return { ref, sha };
  }

  // ---- repositories -----------------------------------------------------------------------------

  addRepository(input: AddRepositoryInput): Promise<AddedRepository> {
    return this.#repositories.add(input, this.#serverUrl);
  }

  async removeRepository(idOrName: string, actor: string): Promise<WatchedRepository> {
    const repository = await this.#repositories.remove(idOrName, actor);
    this.#polled.delete(repository.id);
    this.#pollErrors.delete(repository.id);
    return repository;
  }

  webhookSecret(repository: WatchedRepository): string {
    return this.#repositories.webhookSecret(repository);
  }

  // ---- schedules --------------------------------------------------------------------------------

  rebuildSchedules(): Promise<void> {
    const next = this.#rebuilding
      .then(() => this.#rebuild())
      .catch((err: unknown) => {
        this.#o.logger.error({ err }, "could not rebuild pipeline schedules");
      });
    this.#rebuilding = next;
    return next;
  }

  async #rebuild(): Promise<void> {
    const applied = await this.#applied();
    for (const s of this.#jobs) s.job.stop();
    this.#jobs = [];
    if (!this.#started) return;
    for (const { name, spec } of applied) {
      for (const entry of spec.on?.schedule ?? []) {
        const timezone = entry.timezone ?? "UTC";
        try {
          const job = createScheduleJob(
            { cron: entry.cron, timezone },
            (plannedAt) => void this.#fire(name, plannedAt),
            (err) => {
              this.#o.logger.error({ err, pipeline: name }, "scheduled run failed to start");
            },
            this.#now,
          );
          this.#jobs.push({ pipeline: name, cron: entry.cron, timezone, job });
        } catch (err) {
          this.#o.logger.error(
            { err, pipeline: name, cron: entry.cron },
            "cannot schedule this cron expression",
          );
        }
      }
    }
    this.#o.logger.debug({ schedules: this.#jobs.length }, "pipeline schedules rebuilt");
  }

  schedules(): ScheduleView[] {
    return this.#jobs.map((s) => ({
      pipeline: s.pipeline,
      cron: s.cron,
      timezone: s.timezone,
      nextRun: s.job.nextRun()?.toISOString() ?? null,
    }));
  }

  async #fire(pipeline: string, plannedAt: Date): Promise<void> {
    try {
      const spec = (await this.#applied()).find((p) => p.name === pipeline)?.spec;
      if (spec === undefined) return;
      const repos = await this.#o.store.pipelines.listRepositories();
      const repo = repos.length === 1 ? repos[0] : undefined;
      const head = repo === undefined ? { ref: null, sha: null } : await this.#defaultHead(repo);
      const ref = head.ref === null ? { ref: null, branch: null, tag: null } : refFields(head.ref);
      const run = await this.#o.engine.startRun({
        pipeline,
        trigger: {
          kind: "schedule",
          actor: "system:schedule",
          ...ref,
          sha: head.sha,
          repository: repo?.id ?? null,
          inputs: defaultInputs(spec),
          scheduledAt: plannedAt.toISOString(),
        },
      });
      this.#o.logger.info(
        { pipeline, run: run.id, scheduledAt: plannedAt.toISOString() },
        "scheduled run started",
      );
    } catch (err) {
      this.#o.logger.error({ err, pipeline }, "scheduled run failed to start");
    }
  }

  // ---- polling ----------------------------------------------------------------------------------

  pollOnce(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    let repos: WatchedRepository[];
    try {
      repos = (await this.#o.store.pipelines.listRepositories()).filter((r) => r.kind === "url");
    } catch (err) {
      this.#o.logger.warn({ err }, "could not list repositories to poll");
      return;
    }
    for (const repo of repos) {
      if (this.#isStopping()) return;
      try {
        await this.#pollRepository(repo);
        this.#pollErrors.delete(repo.id);
      } catch (err) {
        if (this.#isStopping()) return;
        const message = (err as Error).message;
        if (this.#pollErrors.get(repo.id) !== message) {
          this.#pollErrors.set(repo.id, message);
          this.#o.logger.warn({ repository: repo.name, error: message }, "polling a repository failed");
        }
      }
    }
  }

  async #pollRepository(repo: WatchedRepository): Promise<void> {
    const heads = parseLsRemote(
      await git(["ls-remote", "--heads", "--tags", "--", repo.location], 20_000, this.#stopping.signal),
    );
    const first = !this.#polled.has(repo.id) && Object.keys(repo.heads).length === 0;
    this.#polled.add(repo.id);
    const changed = Object.entries(heads).filter(([ref, sha]) => repo.heads[ref] !== sha);
    const gone = Object.keys(repo.heads).filter((ref) => !(ref in heads));
    if (changed.length === 0 && gone.length === 0) return;
    await this.#o.store.pipelines.setRepositoryHeads(repo.id, heads);
    if (first) return;
    for (const [ref, sha] of changed) {
      const deliveryId = pushDeliveryId("poll", repo.id, sha, ref);
      const before = repo.heads[ref] ?? ZERO_ID;
      const push: TriggerPush = {
        provider: "poll",
        deliveryId,
        ref,
        sha,
        before,
        pusher: "poll",
        changedPaths: [],
        changedPathsComplete: false,
        deleted: false,
        created: isZeroId(before),
      };
      if (ref.startsWith("refs/heads/")) push.branch = ref.slice(11);
      else push.tag = ref.slice(10);
      // Another replica (or this one before a restart) started it already: nothing to do.
      await this.onPush(push, repo).catch((err: unknown) => {
        if (!(err instanceof SlipwayError && err.code === "webhook_replayed")) throw err;
      });
    }
  }

  // ---- config -----------------------------------------------------------------------------------

  async #applied(): Promise<Applied[]> {
    const objects = await this.#o.store.config.listObjects();
    return objects
      .filter((o) => o.kind === "pipeline")
      .map((o) => ({ name: o.name, spec: o.spec as unknown as PipelineSpec }));
  }
}

// ---------------------------------------------------------------------------------------------------

/** An absolute path of a git repository (kind path), or a URL git can clone (kind url). */
export async function checkLocation(location: string): Promise<{ location: string; kind: "path" | "url" }> {
  const text = location.trim();
  if (text.startsWith("/")) {
    const gitDir = await gitOrUndefined(["-C", text, "rev-parse", "--git-dir"]);
    if (gitDir === undefined) {
      throw new SlipwayError("invalid_request", `${text} is not a git repository`, {
        hint: "give the path of a repository (a working tree or a bare one), or a URL to poll",
      });
    }
    const top = await gitOrUndefined(["-C", text, "rev-parse", "--show-toplevel"]);
    return {
      location: top !== undefined && top !== "" ? top : text.replace(/\/+$/, "") || "/",
      kind: "path",
    };
  }
  if (/^(https?|ssh|git|file):\/\/\S+$/.test(text) || /^[\w.-]+@[\w.-]+:\S+$/.test(text)) {
    return { location: text, kind: "url" };
  }
  throw new SlipwayError(
    "invalid_request",
    `location ${JSON.stringify(location)} is neither an absolute path nor a URL (https://, ssh://, git://, file:// or user@host:path)`,
  );
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}
