/**
 * The thin executor of supervise.ts for `slipway up`: every `pollMs` it asks the socket which agent
 * answers and whether the watched pid lives, lets `decideSupervision` decide, and performs the actions
 * (a start is awaited in line, so there is never a second one in flight). It also writes the supervisor
 * record (supervise-record.ts) so `slipway agent restart` leaves the starting to it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive, probeAgent, startAgent, type AgentProcess } from "./agent-process.js";
import {
  decideSupervision,
  DEFAULT_RESTART_POLICY,
  initialSupervisorState,
  type RestartPolicy,
  type SupervisorAction,
  type SupervisorObservation,
  type SupervisorState,
} from "./supervise.js";
import { removeSupervisorRecord, writeSupervisorRecord } from "./supervise-record.js";

export interface AgentSupervisorOptions {
  dataDir: string;
  logLevel: string;
  /** The agent `up` started or reused. */
  agent: AgentProcess;
  /** The control plane's URL, for the supervisor record (a second `up` names it). */
  url: string;
  /** One line per restart, adoption or failed start. */
  say: (line: string) => void;
  pollMs?: number;
  policy?: RestartPolicy;
  now?: () => number;
}

export interface AgentSupervisor {
  /** The agent watched now; undefined while none runs. */
  currentPid(): number | undefined;
  /** Resolves with the reason if supervision gives up (the agent cannot be kept running). */
  readonly gaveUp: Promise<string>;
  /** Stops watching (after a start in flight has finished) and removes the supervisor record. */
  stop(): Promise<void>;
}

/**
 * @example
 *   const supervisor = superviseAgent({ dataDir, logLevel, agent, url, say: (l) => output.out(l) });
 *   // … on Ctrl-C:
 *   await supervisor.stop();
 */
export function superviseAgent(options: AgentSupervisorOptions): AgentSupervisor {
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 500;
  const policy = options.policy ?? DEFAULT_RESTART_POLICY;
  // How agents this process started ended (only a parent hears the signal), by pid.
  const exits = new Map<number, string>();
  const track = (agent: AgentProcess) => {
    void agent.exit?.then((how) => exits.set(agent.pid, how));
  };
  track(options.agent);
  const abort = new AbortController();
  let state: SupervisorState = initialSupervisorState(options.agent.pid, now());
  let giveUp: (reason: string) => void = () => undefined;
  const gaveUp = new Promise<string>((resolve) => {
    giveUp = resolve;
  });
  writeSupervisorRecord(options.dataDir, { kind: "up", pid: process.pid, url: options.url });

  const observe = async (): Promise<SupervisorObservation> => {
    const answering = await probeAgent(options.dataDir);
    const watched = state.pid;
    return {
      kind: "poll",
      answeringPid: answering?.agent.pid,
      watchedAlive: watched !== undefined && isAlive(watched),
      exit: watched === undefined ? undefined : exits.get(watched),
    };
  };

  const perform = async (actions: SupervisorAction[]): Promise<void> => {
    for (const action of actions) {
      switch (action.kind) {
        case "say":
          options.say(action.line);
          break;
        case "give-up":
          giveUp(action.reason);
          break;
        case "start": {
          let outcome: SupervisorObservation;
          try {
            const started = await startAgent(options.dataDir, options.logLevel);
            track(started);
            outcome = { kind: "started", pid: started.pid };
          } catch (err) {
            outcome = {
              kind: "start-failed",
              reason: err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err),
            };
          }
          await step(outcome);
          break;
        }
        default: {
          const never: never = action;
          throw new Error(`unexpected action ${JSON.stringify(never)}`);
        }
      }
    }
  };

  async function step(observation: SupervisorObservation): Promise<number | undefined> {
    const decision = decideSupervision(state, observation, now(), policy);
    state = decision.state;
    await perform(decision.actions);
    return decision.wakeAt;
  }

  const loop = (async () => {
    while (!abort.signal.aborted && state.phase !== "gave-up") {
      const wakeAt = await step(await observe());
      const delay = wakeAt === undefined ? pollMs : Math.max(0, Math.min(pollMs, wakeAt - now()));
      await sleep(delay, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  })().catch((err: unknown) => {
    giveUp(`supervision failed: ${err instanceof Error ? err.message : String(err)}`);
  });

  return {
    currentPid: () => state.pid,
    gaveUp,
    async stop() {
      abort.abort();
      await loop;
      removeSupervisorRecord(options.dataDir, process.pid);
    },
  };
}
