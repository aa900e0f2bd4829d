/**
 * Each environment's router listener, as the controller makes the agent match the config: which
 * environments to put or delete, in which order (a pure decision), and what became of it. A listener
 * that cannot be set up (its address taken, not on this host) is a problem kept per environment, said
 * once in the log and the event log (`environment.router-failed`, with the address and the cause), and
 * cleared when it listens again (`environment.router-recovered`). `apply` reports these problems.
 */
import type { Logger } from "pino";
import type { AgentClient, EnvironmentSpec, EnvironmentState } from "../agent/index.js";
import type { Store } from "../store/index.js";
import { SlipwayError, clientMessage } from "../util/index.js";

export interface RouterProblem {
  env: string;
  listen: string;
  /** The agent's error code, e.g. `address_in_use`. */
  code: string;
  message: string;
  /** ISO time of the first failure with this message. */
  since: string;
}

export type RouterStep =
  { kind: "put"; env: string; spec: EnvironmentSpec } | { kind: "delete"; env: string };

/**
 * What to change so the agent's listeners match `wanted`, in an order that frees an address before
 * another environment takes it: first the puts whose address nobody else holds, then the deletes, then
 * the puts of an address another environment is leaving (each after that one has moved). Whatever is
 * left (two environments swapping addresses) goes last and fails, to be reported.
 *
 * @example
 *   // staging renamed to stage on the same port: delete staging, then put stage.
 *   planRouters([{ name: "staging", listen: ":8080", … }], new Map([["stage", { listen: ":8080", … }]]))
 */
export function planRouters(
  agentEnvs: readonly EnvironmentState[],
  wanted: ReadonlyMap<string, EnvironmentSpec>,
): RouterStep[] {
  const current = new Map(agentEnvs.map((e) => [e.name, e]));
  const holderOf = (env: string, listen: string) =>
    agentEnvs.find((e) => e.name !== env && e.address !== undefined && e.listen === listen)?.name;
  const free: RouterStep[] = [];
  let blocked: { step: RouterStep; holder: string }[] = [];
  for (const [env, spec] of wanted) {
    if (inPlace(current.get(env), spec)) continue;
    const holder = holderOf(env, spec.listen);
    if (holder === undefined) free.push({ kind: "put", env, spec });
    else blocked.push({ step: { kind: "put", env, spec }, holder });
  }
  const deletes: RouterStep[] = agentEnvs
    .filter((e) => !wanted.has(e.name))
    .map((e) => ({ kind: "delete", env: e.name }));
  // An environment has left its old address once it is deleted, or put on a new one.
  const left = new Set([
    ...deletes.map((s) => s.env),
    ...free.filter((s) => s.kind === "put" && current.get(s.env)?.listen !== s.spec.listen).map((s) => s.env),
  ]);
  const ordered = [...free, ...deletes];
  for (let progress = true; progress;) {
    progress = false;
    const still: typeof blocked = [];
    for (const b of blocked) {
      if (!left.has(b.holder)) {
        still.push(b);
        continue;
      }
      ordered.push(b.step);
      left.add(b.step.env);
      progress = true;
    }
    blocked = still;
  }
  return [...ordered, ...blocked.map((b) => b.step)];
}

export interface EnvironmentRoutersOptions {
  store: Store;
  logger: Logger;
  now: () => number;
}

/** The driver of {@link planRouters}: carries the steps out (reconcile-executor.ts) and keeps the problems. */
export class EnvironmentRouters {
  readonly #problems = new Map<string, RouterProblem>();

  constructor(private readonly options: EnvironmentRoutersOptions) {}

  problems(): RouterProblem[] {
    return [...this.#problems.values()].sort((a, b) => a.env.localeCompare(b.env));
  }

  /** Environment → message, as `GET /deployments` shows them. */
  errors(): Record<string, string> {
    return Object.fromEntries([...this.#problems].map(([env, p]) => [env, p.message]));
  }

  /**
   * Bookkeeping before the steps: problems of environments no longer declared are forgotten, and one
   * whose listener is in place as wanted (the agent restored it) is recovered.
   */
  async note(
    agentEnvs: readonly EnvironmentState[],
    wanted: ReadonlyMap<string, EnvironmentSpec>,
  ): Promise<void> {
    for (const env of [...this.#problems.keys()]) if (!wanted.has(env)) this.#problems.delete(env);
    for (const [env, spec] of wanted) {
      if (
        inPlace(
          agentEnvs.find((e) => e.name === env),
          spec,
        )
      )
        await this.#listening(env, spec.listen);
    }
  }

  /**
   * Carries the steps out in order, awaiting each, and answers the agent's environments afterwards as
   * it acknowledged them: a put that failed leaves the old table (and is reported), a delete that
   * failed leaves the environment.
   */
  async apply(
    client: AgentClient,
    agentEnvs: readonly EnvironmentState[],
    steps: readonly RouterStep[],
  ): Promise<EnvironmentState[]> {
    let acknowledged = [...agentEnvs];
    for (const step of steps) {
      if (step.kind === "delete") {
        try {
          await client.deleteEnvironment(step.env);
          acknowledged = acknowledged.filter((e) => e.name !== step.env);
        } catch (err) {
          this.options.logger.error({ env: step.env, err }, "could not remove the environment's router");
        }
        continue;
      }
      try {
        const state = await client.putEnvironment(step.env, step.spec);
        acknowledged = [...acknowledged.filter((e) => e.name !== step.env), state];
        await this.#listening(step.env, step.spec.listen);
      } catch (err) {
        await this.#failed(step.env, step.spec.listen, err);
      }
    }
    return acknowledged;
  }

  async #failed(env: string, listen: string, err: unknown): Promise<void> {
    const coded = err instanceof SlipwayError ? err : undefined;
    const message = clientMessage(err);
    // The agent went away mid-tick: the agent's health says so; it is not this router's problem.
    if (coded?.code === "server_unreachable") return;
    const known = this.#problems.get(env);
    if (known?.listen === listen && known.message === message) return;
    const problem: RouterProblem = {
      env,
      listen,
      code: coded?.code ?? "internal",
      message,
      since: new Date(this.options.now()).toISOString(),
    };
    this.#problems.set(env, problem);
    this.options.logger.error({ env, listen, err }, "could not set up the environment's router");
    await this.#event(env, "environment.router-failed", { listen, code: problem.code, message });
  }

  async #listening(env: string, listen: string): Promise<void> {
    const known = this.#problems.get(env);
    if (known === undefined) return;
    this.#problems.delete(env);
    this.options.logger.info({ env, listen }, "the environment's router is listening again");
    await this.#event(env, "environment.router-recovered", { listen, after: known.message });
  }

  async #event(env: string, type: string, payload: Record<string, string>): Promise<void> {
    try {
      await this.options.store.events.append({
        type,
        actor: "system:rollout",
        objectKind: "environment",
        objectName: env,
        payload,
      });
    } catch (err) {
      // The problem is still kept and shown by `status`; only its event is lost.
      this.options.logger.warn({ env, type, err }, "could not record the router event");
    }
  }
}

/** The agent listens where wanted, with the wanted table: nothing to put. */
function inPlace(state: EnvironmentState | undefined, spec: EnvironmentSpec): boolean {
  return state?.listen === spec.listen && state.address !== undefined && sameJson(state.routes, spec.routes);
}

/** Key order does not matter: the agent answers with its own (schema) order. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}
