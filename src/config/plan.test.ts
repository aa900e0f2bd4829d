import { readFile } from "node:fs/promises";
import { describe, expect, test } from "vitest";
import type { JsonValue, ObjectChangeInput } from "../store/index.js";
import { parseConfig } from "./load.js";
import { computePlan, desiredObjects, renderPlan, toChangeInputs, type DesiredObject } from "./plan.js";

const EXAMPLE = await readFile(new URL("./testdata/product-example.yaml", import.meta.url), "utf8");
const desired = (source: string) => desiredObjects(parseConfig(source, "slipway.yaml").config);

const service = (name: string, spec: JsonValue): DesiredObject => ({ kind: "service", name, spec });
const environment = (name: string, spec: JsonValue): DesiredObject => ({ kind: "environment", name, spec });

describe("desiredObjects", () => {
  test("declares the project, then environments and services by name", () => {
    expect(desired(EXAMPLE).map((o) => `${o.kind} ${o.name}`)).toEqual([
      "project shop",
      "environment production",
      "environment staging",
      "service web",
    ]);
    expect(desired(EXAMPLE)[0]).toEqual({ kind: "project", name: "shop", spec: { name: "shop" } });
  });

  test("specs carry defaults, with keys sorted at every level", () => {
    const staging = desired(EXAMPLE)[2];
    expect(JSON.stringify(staging?.spec)).toBe(
      '{"protection":{"approvals":0},"router":{"listen":"127.0.0.1:8081"}}',
    );
    const web = desired(EXAMPLE)[3]?.spec as { run: Record<string, JsonValue> };
    expect(Object.keys(web)).toEqual(["build", "health", "rollout", "route", "run"]);
    expect(Object.keys(web.run)).toEqual(["command", "env", "instances", "secrets", "stopTimeout"]);
  });

  test("the same config written in a different key order gives equal specs", () => {
    const a = desired(
      "project: shop\nenvironments: { s: { router: { listen: '127.0.0.1:1' }, protection: {} } }\n",
    );
    const b = desired(
      "environments: { s: { protection: {}, router: { listen: '127.0.0.1:1' } } }\nproject: shop\n",
    );
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

describe("computePlan", () => {
  test("creates everything against an empty store", () => {
    const plan = computePlan([], desired(EXAMPLE));
    expect(plan.summary).toEqual({ add: 4, change: 0, delete: 0 });
    expect(plan.changes.every((c) => c.action === "create" && c.spec !== undefined)).toBe(true);
    expect(plan.changes[2]?.fields).toEqual([
      { path: "protection.approvals", after: 0 },
      { path: "router.listen", after: "127.0.0.1:8081" },
    ]);
  });

  test("has no changes when the live objects match", () => {
    const objects = desired(EXAMPLE);
    const plan = computePlan(
      objects.map((o) => ({ ...o, revision: 3 })),
      objects,
    );
    expect(plan).toEqual({ changes: [], summary: { add: 0, change: 0, delete: 0 } });
  });

  test("an update lists the changed leaves by their nested path", () => {
    const before = service("web", { run: { command: "a", instances: 2, env: { A: "1" } } });
    const after = service("web", { run: { command: "a", instances: 3, env: { A: "1" } } });
    expect(computePlan([before], [after]).changes).toEqual([
      {
        action: "update",
        kind: "service",
        name: "web",
        spec: after.spec,
        fields: [{ path: "run.instances", before: 2, after: 3 }],
      },
    ]);
  });

  test("an added section is shown leaf by leaf, a removed field without an after", () => {
    const before = service("web", { run: { env: { A: "1", B: "2" } } });
    const after = service("web", { run: { env: { A: "1" } }, health: { readiness: { http: "/healthz" } } });
    expect(computePlan([before], [after]).changes[0]?.fields).toEqual([
      { path: "health.readiness.http", after: "/healthz" },
      { path: "run.env.B", before: "2" },
    ]);
  });

  test("lists are compared and shown whole", () => {
    const before = service("web", { run: { secrets: ["A", "B"] } });
    const after = service("web", { run: { secrets: ["A", "C"] } });
    expect(computePlan([before], [after]).changes[0]?.fields).toEqual([
      { path: "run.secrets", before: ["A", "B"], after: ["A", "C"] },
    ]);
  });

  test("a field that changes type is one change, not a list of leaves", () => {
    const before = service("web", { rollout: { maxSurge: { odd: 1 } } });
    const after = service("web", { rollout: { maxSurge: "25%" } });
    expect(computePlan([before], [after]).changes[0]?.fields).toEqual([
      { path: "rollout.maxSurge", before: { odd: 1 }, after: "25%" },
    ]);
  });

  test("keys that would read ambiguously in a path are quoted", () => {
    const plan = computePlan([service("web", { labels: {} })], [service("web", { labels: { "a.b": "x" } })]);
    expect(plan.changes[0]?.fields).toEqual([{ path: 'labels["a.b"]', after: "x" }]);
  });

  test("deletes what is live but no longer declared, without a spec", () => {
    const plan = computePlan([service("old", { run: { command: "a" } })], []);
    expect(plan.changes).toEqual([
      { action: "delete", kind: "service", name: "old", fields: [{ path: "run.command", before: "a" }] },
    ]);
    expect(plan.summary).toEqual({ add: 0, change: 0, delete: 1 });
  });

  test("orders changes project, environments, services, each by name", () => {
    const plan = computePlan(
      [service("zeta", {}), environment("old", {})],
      [
        service("beta", {}),
        environment("staging", {}),
        { kind: "project", name: "shop", spec: { name: "shop" } },
      ],
    );
    expect(plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      "create project shop",
      "delete environment old",
      "create environment staging",
      "create service beta",
      "delete service zeta",
    ]);
  });

  test("changes convert directly into the store's ObjectChangeInput", () => {
    const plan = computePlan([service("old", { a: 1 })], [service("web", { a: 1 })]);
    const inputs: ObjectChangeInput[] = toChangeInputs(plan);
    expect(inputs).toEqual([
      { action: "delete", kind: "service", name: "old", fields: [{ path: "a", before: 1 }] },
      { action: "create", kind: "service", name: "web", spec: { a: 1 }, fields: [{ path: "a", after: 1 }] },
    ]);
    expect("spec" in (inputs[0] ?? {})).toBe(false);
    // Field lists are plain JSON, so they can go into an event payload as they are.
    const fields: JsonValue = plan.changes[1]?.fields ?? [];
    expect(fields).toHaveLength(1);
  });
});

describe("renderPlan", () => {
  const plan = computePlan(
    [
      service("web", { run: { instances: 2 } }),
      service("old", { run: { instances: 1 } }),
      environment("production", {}),
    ],
    [
      environment("production", {}),
      environment("staging", { router: { listen: "127.0.0.1:8081" } }),
      service("web", { run: { instances: 3, env: { DEBUG: "1" } } }),
    ],
  );

  test("shows each change Terraform style, with a summary", () => {
    expect(renderPlan(plan, { color: false })).toBe(
      [
        "  + environment staging",
        '      router.listen: "127.0.0.1:8081"',
        "  - service old",
        "  ~ service web",
        '      run.env.DEBUG: (none) → "1"',
        "      run.instances: 2 → 3",
        "",
        "Plan: 1 to add, 1 to change, 1 to delete.",
      ].join("\n"),
    );
  });

  test("says so when nothing changes", () => {
    const empty = computePlan([], []);
    expect(renderPlan(empty, { color: false })).toBe("No changes. The live config matches slipway.yaml.");
    expect(renderPlan(empty, { color: false, file: "deploy/slipway.yaml" })).toBe(
      "No changes. The live config matches deploy/slipway.yaml.",
    );
  });

  test("colours only when asked", () => {
    expect(renderPlan(plan, { color: true })).toContain("\u001b[32m+\u001b[39m");
    expect(renderPlan(plan, { color: false })).not.toContain("\u001b[");
  });
});
