import { describe, expect, it } from "vitest";
import type { EnvironmentSpec, EnvironmentState } from "../agent/index.js";
import { listenersToCheck, refusals } from "./listen-checks.js";
import { planRouters, type RouterStep } from "./routers.js";

const routes = { services: [] };
const bound = (name: string, listen: string): EnvironmentState => ({
  name,
  listen,
  routes,
  address: { host: "127.0.0.1", port: Number(listen.split(":")[1]) },
});
const unbound = (name: string, listen: string): EnvironmentState => ({
  ...bound(name, listen),
  address: undefined,
});
const wanted = (...envs: [string, string][]) =>
  new Map<string, EnvironmentSpec>(envs.map(([name, listen]) => [name, { listen, routes }]));
const brief = (steps: RouterStep[]) =>
  steps.map((s) => (s.kind === "put" ? `put ${s.env} ${s.spec.listen}` : `delete ${s.env}`));

describe("planRouters", () => {
  it.each([
    [
      "nothing to do when every listener is where it should be",
      [bound("prod", "a:1")],
      [["prod", "a:1"]],
      [],
    ],
    ["a new environment is put", [], [["prod", "a:1"]], ["put prod a:1"]],
    [
      "a listener whose restore failed is put again",
      [unbound("prod", "a:1")],
      [["prod", "a:1"]],
      ["put prod a:1"],
    ],
    ["a removed environment is deleted", [bound("old", "a:1")], [], ["delete old"]],
    [
      "a rename on the same address deletes the old one before putting the new one",
      [bound("staging", "a:1")],
      [["stage", "a:1"]],
      ["delete staging", "put stage a:1"],
    ],
    [
      "a move frees the address before another environment takes it",
      [bound("blue", "a:1")],
      [
        ["green", "a:1"],
        ["blue", "a:2"],
      ],
      ["put blue a:2", "put green a:1"],
    ],
    [
      "a chain of moves is ordered end to start",
      [bound("x", "a:1"), bound("y", "a:2")],
      [
        ["z", "a:1"],
        ["x", "a:2"],
        ["y", "a:3"],
      ],
      ["put y a:3", "put x a:2", "put z a:1"],
    ],
    [
      "a swap cannot be ordered: both go last (and the bind reports it)",
      [bound("x", "a:1"), bound("y", "a:2")],
      [
        ["x", "a:2"],
        ["y", "a:1"],
      ],
      ["put x a:2", "put y a:1"],
    ],
  ] as [string, EnvironmentState[], [string, string][], string[]][])("%s", (_what, agent, want, steps) => {
    expect(brief(planRouters(agent, wanted(...want)))).toEqual(steps);
  });

  it("puts an environment whose table changed on the same address", () => {
    const table = { services: [{ name: "web", releases: [] }] } as unknown as EnvironmentSpec["routes"];
    const steps = planRouters([bound("prod", "a:1")], new Map([["prod", { listen: "a:1", routes: table }]]));
    expect(brief(steps)).toEqual(["put prod a:1"]);
  });
});

describe("apply's listen checks", () => {
  it("checks only listeners the agent does not already have where they are wanted", () => {
    const agent = [bound("prod", "a:1"), unbound("staging", "a:2"), bound("qa", "a:3")];
    const desired = [
      { env: "prod", listen: "a:1" },
      { env: "staging", listen: "a:2" },
      { env: "qa", listen: "a:4" },
      { env: "dev", listen: "a:5" },
    ];
    expect(listenersToCheck(desired, agent).map((d) => d.env)).toEqual(["staging", "qa", "dev"]);
  });

  it("refuses an address someone else holds, not one an environment of ours is leaving", () => {
    const refused = refusals([
      {
        env: "prod",
        listen: "a:1",
        available: false,
        code: "address_in_use",
        message: "router: a:1 is already in use",
      },
      { env: "green", listen: "a:2", available: false, heldBy: "blue" },
      { env: "qa", listen: "a:3", available: true },
    ]);
    expect(refused.map(({ env, listen, code }) => ({ env, listen, code }))).toEqual([
      { env: "prod", listen: "a:1", code: "address_in_use" },
    ]);
  });
});
