import { describe, expect, it } from "vitest";
import { specDigest, type InstanceSpec, type PidRecord } from "../runtime/index.js";
import { planAdoption, type AdoptionAction, type ObservedRecord } from "./adoption.js";

function spec(id: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    id,
    service: "web",
    env: "production",
    release: "v1",
    command: "node app.mjs",
    cwd: "/srv/web/v1",
    envVars: { A: "1" },
    port: 41_000,
    stopTimeoutMs: 5_000,
    ...overrides,
  };
}

function record(of: InstanceSpec, overrides: Partial<PidRecord> = {}): PidRecord {
  const port = of.port ?? 0;
  return {
    version: 1,
    ...{ id: of.id, service: of.service, env: of.env, release: of.release, pid: 4242, port },
    ...{
      command: of.command,
      cwd: of.cwd,
      startedAt: "2025-01-01T00:00:00.000Z",
      startTicks: 1,
      bootId: "b",
    },
    ...{ logFile: `/x/${of.id}.log`, stdoutFifo: "/x/o", stderrFifo: "/x/e" },
    ...{ specDigest: specDigest(of, port), stopTimeoutMs: of.stopTimeoutMs, scopeToken: "t", ready: true },
    ...overrides,
  };
}

const live = (r: PidRecord): ObservedRecord => ({ record: r, live: true });
const dead = (r: PidRecord): ObservedRecord => ({ record: r, live: false });
const kinds = (actions: AdoptionAction[]) =>
  actions.map(
    (a) => `${a.kind} ${"spec" in a ? a.spec.id : a.record.id}${a.kind === "stop" ? ` (${a.reason})` : ""}`,
  );

describe("planAdoption", () => {
  const a = spec("web-a");
  const b = spec("web-b", { port: 41_001 });

  it.each<[string, InstanceSpec[], ObservedRecord[], string[]]>([
    [
      "adopts live wanted instances started from the same spec",
      [a, b],
      [live(record(a)), live(record(b))],
      ["adopt web-a", "adopt web-b"],
    ],
    [
      "starts a wanted instance whose process died while no agent watched",
      [a],
      [dead(record(a))],
      ["clean web-a", "start web-a"],
    ],
    ["starts a wanted instance that has no record at all", [a], [], ["start web-a"]],
    ["stops a live instance nobody wants", [], [live(record(a))], ["stop web-a (unwanted)"]],
    ["cleans a stale record nobody wants", [], [dead(record(a))], ["clean web-a"]],
    [
      "stops and restarts an instance whose env changed",
      [spec("web-a", { envVars: { A: "2" } })],
      [live(record(a))],
      ["stop web-a (changed)", "start web-a"],
    ],
    [
      "stops and restarts an instance whose command changed",
      [spec("web-a", { command: "node v2.mjs" })],
      [live(record(a))],
      ["stop web-a (changed)", "start web-a"],
    ],
    [
      "stops and restarts an instance whose release changed",
      [spec("web-a", { release: "v2" })],
      [live(record(a))],
      ["stop web-a (changed)", "start web-a"],
    ],
    [
      "stops and restarts an instance whose port changed",
      [spec("web-a", { port: 42_000 })],
      [live(record(a))],
      ["stop web-a (changed)", "start web-a"],
    ],
    [
      "never adopts a record from before spec digests",
      [a],
      [live(record(a, { specDigest: undefined }))],
      ["stop web-a (changed)", "start web-a"],
    ],
    [
      "adopts one of two live records for one id and stops the other",
      [a],
      [live(record(a)), live(record(a, { pid: 5000 }))],
      ["adopt web-a", "stop web-a (duplicate)"],
    ],
  ])("%s", (_name, wanted, observed, expected) => {
    expect(kinds(planAdoption(wanted, observed))).toEqual(expected);
  });

  it("adopts with the record it found, so the process keeps its pid", () => {
    const found = record(a, { pid: 777 });
    expect(planAdoption([a], [live(found)])).toEqual([{ kind: "adopt", spec: a, record: found }]);
  });

  it("probes and the restart policy are not part of what must match", () => {
    const probed = spec("web-a", {
      health: {
        readiness: {
          http: "/up",
          interval: "1s",
          timeout: "1s",
          grace: "0s",
          healthyAfter: 1,
          unhealthyAfter: 3,
        },
      },
    });
    expect(kinds(planAdoption([probed], [live(record(a))]))).toEqual(["adopt web-a"]);
  });
});
