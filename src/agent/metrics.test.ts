import { describe, expect, it } from "vitest";
import type { InstanceStatus } from "../runtime/index.js";
import { agentMetricsText } from "./metrics.js";
import type { AgentState } from "./types.js";

function instance(over: Partial<InstanceStatus>): InstanceStatus {
  return {
    id: "web-v1-1",
    service: "web",
    env: "production",
    release: "v1",
    pid: 100,
    port: 4000,
    phase: "ready",
    restarts: 0,
    ready: true,
    ...over,
  };
}

const STATE: AgentState = {
  agent: { version: "0.1.0", pid: 42, startedAt: "2026-12-08T10:00:00.000Z" },
  edge: { pid: 43, version: "0.1.0", startedAt: "2026-12-08T09:00:00.000Z", generation: 3 },
  environments: [
    {
      name: "staging",
      listen: "127.0.0.1:8081",
      routes: { services: [] },
      address: undefined,
      error: "in use",
    },
    {
      name: "production",
      listen: "127.0.0.1:8080",
      routes: { services: [] },
      address: { host: "127.0.0.1", port: 8080 },
    },
  ],
  instances: [
    instance({ id: "web-v1-1", restarts: 2, adoptedAt: "2026-12-08T10:00:01.000Z" }),
    instance({ id: "web-v1-2" }),
    instance({ id: "web-v2-1", release: "v2", phase: "backoff", ready: false, restarts: 1 }),
    instance({ id: 'odd"name', service: 'we"b\\x', release: "v1" }),
  ],
};

describe("the agent's Prometheus text", () => {
  const text = agentMetricsText(STATE, true);

  it("counts instances by service, environment, release and phase, and their restarts per release", () => {
    expect(text).toContain(
      'slipway_agent_instances{service="web",env="production",release="v1",phase="ready"} 2',
    );
    expect(text).toContain(
      'slipway_agent_instances{service="web",env="production",release="v2",phase="backoff"} 1',
    );
    expect(text).toContain('slipway_agent_instance_restarts{service="web",env="production",release="v1"} 2');
    expect(text).toContain("slipway_agent_instances_adopted 1");
  });

  it("escapes label values as the text format requires", () => {
    expect(text).toContain(
      'slipway_agent_instances{service="we\\"b\\\\x",env="production",release="v1",phase="ready"} 1',
    );
  });

  it("reports each listener, the edge and the agent's start", () => {
    expect(text).toContain('slipway_agent_environments{env="production"} 1');
    expect(text).toContain('slipway_agent_environments{env="staging"} 0');
    expect(text).toContain("slipway_agent_start_time_seconds 1796724000");
    expect(text).toContain("slipway_edge_up 1");
    expect(text).toContain("slipway_edge_generation 3");
    expect(agentMetricsText(STATE, false)).toContain("slipway_edge_up 0");
  });

  it("declares each family once, before its samples", () => {
    const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
    expect(new Set(types).size).toBe(types.length);
    const names = types.map((l) => l.split(" ")[2]);
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      const name = /^[a-z_]+/.exec(line)?.[0];
      expect(names).toContain(name);
    }
  });
});
