/**
 * The node agent (data plane): router listeners per environment and service instances, driven by the
 * control plane over a local API on a Unix socket. See docs/agent.md.
 */
import type { Agent, AgentOptions } from "./types.js";

/**
 * The agent itself (supervisor, adoption, the edge's client), loaded on demand: the control plane only
 * talks to an agent (the client below), and loading the agent's code with it cost it ~10 MB idle.
 */
export async function createAgent(options: AgentOptions): Promise<Agent> {
  const { createAgent: create } = await import("./agent.js");
  return create(options);
}
export { parseEdgeWorkers } from "./edge-workers-setting.js";
export { agentPaths, type AgentPaths } from "./files.js";
export type { InstanceEvent } from "./events.js";
export {
  createAgentClient,
  type AgentClient,
  type AgentClientOptions,
  type InstanceSpecInput,
} from "./client.js";
export type {
  Agent,
  AgentInfo,
  AgentOptions,
  AgentSnapshot,
  AgentState,
  AgentStopOptions,
  EnvironmentSpec,
  EnvironmentState,
  ListenCheck,
  StatsWindowJson,
} from "./types.js";
