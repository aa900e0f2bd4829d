/**
 * The node agent's own figures in Prometheus' text format (0.0.4), written by hand: the agent does not
 * load prom-client for a dozen gauges (it costs the agent ~10 MB RSS; the routers' per-release counters
 * come from the edge, which has the registry anyway). Pure: a function of the agent's state and the
 * edge's answer, so the exposition is table-tested; `GET /v1/metrics` serves the edge's text followed
 * by this one, and the control plane's `/metrics` appends both (api/metrics.ts).
 */
import type { AgentState } from "./types.js";

const PHASES = [
  "starting",
  "running",
  "ready",
  "unready",
  "backoff",
  "stopping",
  "stopped",
  "failed",
] as const;

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function seconds(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : 0;
}

/**
 * @example
 *   agentMetricsText(state, true);
 *   // # HELP slipway_agent_instances Instances the agent runs, by service, environment, release and phase.
 *   // slipway_agent_instances{service="web",env="production",release="v2",phase="ready"} 2
 */
export function agentMetricsText(state: AgentState, edgeAnswered: boolean): string {
  const lines: string[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };

  family("slipway_agent_start_time_seconds", "gauge", "When this agent process started (Unix time).");
  lines.push(`slipway_agent_start_time_seconds ${seconds(state.agent.startedAt)}`);

  const counts = new Map<string, number>();
  const restarts = new Map<string, number>();
  let adopted = 0;
  for (const i of state.instances) {
    const release = `service="${label(i.service)}",env="${label(i.env)}",release="${label(i.release)}"`;
    const key = `${release},phase="${i.phase}"`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    restarts.set(release, (restarts.get(release) ?? 0) + i.restarts);
    if (i.adoptedAt !== undefined) adopted++;
  }
  family(
    "slipway_agent_instances",
    "gauge",
    `Instances the agent runs, by service, environment, release and phase (${PHASES.join(", ")}).`,
  );
  for (const [key, n] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`slipway_agent_instances{${key}} ${n}`);
  }
  family(
    "slipway_agent_instance_restarts",
    "gauge",
    "Restarts (crashes and liveness kills) of the instances running now, summed per release.",
  );
  for (const [key, n] of [...restarts].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`slipway_agent_instance_restarts{${key}} ${n}`);
  }
  family(
    "slipway_agent_instances_adopted",
    "gauge",
    "Instances this agent adopted from a previous agent (same process, not restarted).",
  );
  lines.push(`slipway_agent_instances_adopted ${adopted}`);

  family(
    "slipway_agent_environments",
    "gauge",
    "Router listeners by environment: 1 bound, 0 not (an error).",
  );
  for (const e of [...state.environments].sort((a, b) => a.name.localeCompare(b.name))) {
    const bound = e.address !== undefined && e.error === undefined ? 1 : 0;
    lines.push(`slipway_agent_environments{env="${label(e.name)}"} ${bound}`);
  }

  family("slipway_edge_up", "gauge", "1 when the edge (the process holding the router listeners) answered.");
  lines.push(`slipway_edge_up ${edgeAnswered ? 1 : 0}`);
  if (state.edge !== undefined) {
    family("slipway_edge_start_time_seconds", "gauge", "When the running edge process started (Unix time).");
    lines.push(`slipway_edge_start_time_seconds ${seconds(state.edge.startedAt)}`);
    family("slipway_edge_generation", "gauge", "The edge's generation: 1, plus one per upgrade by handover.");
    lines.push(`slipway_edge_generation ${state.edge.generation}`);
  }
  return `${lines.join("\n")}\n`;
}
