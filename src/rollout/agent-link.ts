/**
 * The control plane's handle on the node agent: connects lazily (the agent may start after the
 * control plane, or restart under it), reads the agent's token when it connects, and after a failure
 * drops the connection so the next call reconnects with a fresh token.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createAgentClient, type AgentClient } from "../agent/index.js";
import { SlipwayError } from "../util/index.js";

export interface AgentLink {
  readonly socketPath: string;
  client(): Promise<AgentClient>;
  /** Forget the connection (after an error); the next `client()` reconnects. */
  reset(): void;
  close(): Promise<void>;
}

/** The agent of a data directory: `<dataDir>/agent/agent.sock` and `agent.token`. */
export function agentLinkFor(dataDir: string): AgentLink {
  return createAgentLink(join(dataDir, "agent", "agent.sock"), join(dataDir, "agent", "agent.token"));
}

export function createAgentLink(socketPath: string, tokenPath: string): AgentLink {
  let current: AgentClient | undefined;
  return {
    socketPath,
    async client() {
      if (current !== undefined) return current;
      let token: string;
      try {
        token = (await readFile(tokenPath, "utf8")).trim();
      } catch {
        throw new SlipwayError("server_unreachable", `the node agent is not running (no ${tokenPath})`, {
          hint: "`slipway up` starts it; or run `slipway agent` with the same --data-dir",
        });
      }
      current = createAgentClient({ socketPath, token });
      return current;
    },
    reset() {
      const old = current;
      current = undefined;
      void old?.close().catch(() => undefined);
    },
    async close() {
      const old = current;
      current = undefined;
      await old?.close();
    },
  };
}
