/**
 * The edge: every environment's router listener in one small process per node that outlives the agent
 * (restart, upgrade, `kill -9`), driven by the agent over a Unix socket. See docs/agent.md, "The edge
 * process". The agent imports this face (client, spawn-or-adopt, the respawn decision); the edge
 * process itself is main.ts.
 */
export { createEdgeClient, type EdgeClient, type EdgeClientOptions } from "./client.js";
export {
  connectEdge,
  defaultEdgeMain,
  stopEdgeProcess,
  type EdgeConnection,
  type EdgeLaunchOptions,
} from "./spawn.js";
export { edgePaths, isSameProcess, type EdgePaths } from "./files.js";
export {
  DEFAULT_EDGE_BACKOFF,
  decideEdge,
  edgeUp,
  initialWatch,
  respawnFailed,
  type EdgeBackoff,
  type EdgeWatch,
  type EdgeWatchAction,
} from "./supervise.js";
export type {
  EdgeEnvSpec,
  EdgeEnvState,
  EdgeListenCheck,
  EdgePidRecord,
  EdgeState,
  EdgeStatsJson,
} from "./types.js";
