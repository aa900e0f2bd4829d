/**
 * What `apply` learns about the environments' routers. Before the commit: an address another process
 * holds (or that this host cannot bind) refuses the apply, so nothing is written for a config whose
 * router cannot listen. After the commit: one pass of the controller, then the router problems of the
 * applied environments, for what only the real bind can tell (a race, a restore that failed).
 *
 * Both are best effort about the agent: when it does not answer, the apply goes on (config is valid
 * without a data plane) and the controller reports the routers once it is back.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { AgentClient, EnvironmentState, ListenCheck } from "../agent/index.js";
import { SlipwayError } from "../util/index.js";
import type { RolloutController } from "./controller.js";
import type { RouterProblem } from "./routers.js";

export interface DesiredListener {
  env: string;
  listen: string;
}

/** How long an apply waits for the controller's pass before answering with what it knows. */
const AFTER_APPLY_WAIT_MS = 10_000;

/** Listeners the agent does not already have where they are wanted: those get a bind check. */
export function listenersToCheck(
  desired: readonly DesiredListener[],
  agentEnvs: readonly EnvironmentState[],
): DesiredListener[] {
  return desired.filter((d) => {
    const now = agentEnvs.find((e) => e.name === d.env);
    return !(now?.listen === d.listen && now.address !== undefined);
  });
}

/**
 * The checks that refuse the apply: the address is not free and no environment of ours holds it (one
 * of ours that holds it is moving away or going: the controller orders that, see routers.ts).
 */
export function refusals(checks: readonly (ListenCheck & { env: string })[]): Omit<RouterProblem, "since">[] {
  return checks
    .filter((c) => !c.available && c.heldBy === undefined)
    .map((c) => ({
      env: c.env,
      listen: c.listen,
      code: c.code ?? "address_in_use",
      message: c.message ?? `router: ${c.listen} is not available`,
    }));
}

async function reachableAgent(
  controller: RolloutController,
): Promise<{ client: AgentClient; state: EnvironmentState[] } | undefined> {
  try {
    const client = await controller.agentClient();
    return { client, state: (await client.state()).environments };
  } catch {
    return undefined;
  }
}

/** Throws `address_in_use` (nothing applied) when a changed router address cannot be bound now. */
export async function refuseTakenAddresses(
  controller: RolloutController,
  desired: readonly DesiredListener[],
): Promise<void> {
  const agent = await reachableAgent(controller);
  if (agent === undefined) return;
  const checks: (ListenCheck & { env: string })[] = [];
  for (const d of listenersToCheck(desired, agent.state)) {
    const check = await agent.client.checkListen(d.listen).catch(() => undefined);
    if (check !== undefined) checks.push({ ...check, env: d.env });
  }
  const refused = refusals(checks);
  const first = refused[0];
  if (first === undefined) return;
  const more = refused.length > 1 ? ` (and ${refused.length - 1} more)` : "";
  throw new SlipwayError(
    "address_in_use",
    `environment ${first.env}: ${first.message}${more}; nothing was applied`,
    {
      hint: `stop what listens on ${first.listen}, or give environments.${first.env}.router.listen another address`,
      details: refused,
    },
  );
}

/** After a commit: one controller pass (bounded), then the router problems of these environments. */
export async function routerProblemsAfterApply(
  controller: RolloutController,
  envs: readonly string[],
): Promise<RouterProblem[]> {
  const waited = new AbortController();
  await Promise.race([
    controller.settle(),
    sleep(AFTER_APPLY_WAIT_MS, undefined, { signal: waited.signal }).catch(() => undefined),
  ]);
  waited.abort();
  return currentRouterProblems(controller, envs);
}

/** The router problems the controller knows now, for these environments. */
export function currentRouterProblems(
  controller: RolloutController,
  envs: readonly string[],
): RouterProblem[] {
  return controller.routerProblems().filter((p) => envs.includes(p.env));
}
