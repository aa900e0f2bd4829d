import { describe, expect, it } from "vitest";
import type { AgentState } from "../agent/index.js";
import { disruptionSince, windowDisruption } from "./observe.js";

const T0 = Date.parse("2026-12-08T10:00:00.000Z");

function agent(startedAt: number, edgeStartedAt?: number): AgentState {
  return {
    agent: { version: "0.1.0", pid: 42, startedAt: new Date(startedAt).toISOString() },
    ...(edgeStartedAt === undefined
      ? {}
      : {
          edge: {
            pid: 43,
            version: "0.1.0",
            startedAt: new Date(edgeStartedAt).toISOString(),
            generation: 2,
          },
        }),
    environments: [],
    instances: [],
  };
}

describe("disruptionSince: which traffic windows are the data plane's fault", () => {
  const cases: {
    name: string;
    startedAt: number;
    edgeStartedAt?: number;
    lostAt: number | undefined;
    since: number;
    want: { at: number; what: string } | undefined;
  }[] = [
    { name: "a quiet window", startedAt: T0 - 60_000, lostAt: undefined, since: T0, want: undefined },
    {
      name: "the agent restarted within the window",
      startedAt: T0 + 2_000,
      lostAt: undefined,
      since: T0,
      want: { at: T0 + 2_000, what: "the node agent restarted" },
    },
    {
      name: "the agent could not be read within the window",
      startedAt: T0 - 60_000,
      lostAt: T0 + 1_000,
      since: T0,
      want: { at: T0 + 1_000, what: "the node agent could not be reached" },
    },
    {
      name: "both: the latest one is named",
      startedAt: T0 + 3_000,
      lostAt: T0 + 1_000,
      since: T0,
      want: { at: T0 + 3_000, what: "the node agent restarted" },
    },
    {
      name: "the edge restarted (or was upgraded) within the window",
      startedAt: T0 - 60_000,
      edgeStartedAt: T0 + 4_000,
      lostAt: undefined,
      since: T0,
      want: { at: T0 + 4_000, what: "the edge (router process) restarted" },
    },
    {
      name: "an edge older than the window",
      startedAt: T0 - 60_000,
      edgeStartedAt: T0 - 30_000,
      lostAt: undefined,
      since: T0,
      want: undefined,
    },
    {
      name: "an outage before the window",
      startedAt: T0 - 5_000,
      lostAt: T0 - 6_000,
      since: T0,
      want: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(disruptionSince(agent(c.startedAt, c.edgeStartedAt), c.lostAt, c.since)).toEqual(c.want);
    });
  }
});

describe("windowDisruption: a window the edge could not gather whole", () => {
  const whole = { requests: 10, errors: 0, latenciesMs: [1] };
  it("sets aside a window a router worker's figures are missing from", () => {
    const partial = { ...whole, partial: "router worker 1 restarted" };
    expect(windowDisruption(agent(T0 - 60_000), undefined, T0, T0 + 5_000, [whole, partial])).toEqual({
      at: T0 + 5_000,
      what: "router worker 1 restarted",
    });
  });
  it("names an agent restart first, and leaves whole windows alone", () => {
    expect(
      windowDisruption(agent(T0 + 1_000), undefined, T0, T0 + 5_000, [{ ...whole, partial: "x" }])?.what,
    ).toBe("the node agent restarted");
    expect(windowDisruption(agent(T0 - 60_000), undefined, T0, T0 + 5_000, [whole, null])).toBeUndefined();
  });
});
