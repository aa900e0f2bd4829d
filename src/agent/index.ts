/**
 * The node agent (data plane): router listeners per environment and service instances, driven by the
 * control plane over a local API on a Unix socket. See docs/agent.md.
 */
export { createAgent } from "./agent.js";
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
