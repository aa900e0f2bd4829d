import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { ConfigError, type ConfigIssue } from "../util/index.js";
import { loadConfigFile, parseConfig } from "./load.js";

const EXAMPLE = fileURLToPath(new URL("./testdata/product-example.yaml", import.meta.url));

/** Source from lines, so a test can count them. */
const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

function issuesOf(source: string): ConfigIssue[] {
  try {
    parseConfig(source, "slipway.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const SERVICE_WEB = [
  "services:",
  "  web:",
  "    route: { path: / }",
  "    run:",
  "      command: node server.js",
];

describe("loading a good config", () => {
  test("reads the product example with every default filled in", async () => {
    const loaded = await loadConfigFile(EXAMPLE);
    const source = await readFile(EXAMPLE, "utf8");
    expect(loaded.file).toBe(EXAMPLE);
    expect(loaded.source).toBe(source);
    expect(loaded.sourceHash).toBe(createHash("sha256").update(source).digest("hex"));
    const { config } = loaded;
    expect(config.project).toBe("shop");
    expect(Object.keys(config.environments)).toEqual(["staging", "production"]);
    expect(config.environments.staging?.protection).toEqual({ approvals: 0 });
    expect(config.environments.production?.protection.freeze).toEqual([
      "fri 16:00 - mon 08:00 Europe/Berlin",
    ]);
    const web = config.services.web;
    expect(web?.run).toEqual({
      command: "node server.js",
      instances: 2,
      env: { NODE_ENV: "production" },
      secrets: ["SESSION_KEY"],
      stopTimeout: "10s",
    });
    expect(web?.health?.liveness).toEqual({
      http: "/healthz",
      interval: "5s",
      timeout: "2s",
      healthyAfter: 1,
      unhealthyAfter: 3,
      grace: "0s",
    });
    expect(web?.rollout).toMatchObject({
      strategy: "canary",
      maxSurge: 1,
      maxUnavailable: 0,
      steps: [
        { weight: 10, pause: "30s" },
        { weight: 50, pause: "1m" },
      ],
      watch: "10m",
      keepWarm: "5m",
      progressDeadline: "10m",
    });
    expect(web?.rollout.analysis?.checks[0]).toEqual({
      metric: "error-rate",
      max: "1%",
      vsBaseline: "+0.5pp",
    });
    expect(web?.rollout.analysis?.confidence).toBe(0.95);
  });

  test("a project alone is a valid config with no environments, services or pipelines", () => {
    const { config } = parseConfig("project: shop\n", "slipway.yaml");
    expect(config).toEqual({ project: "shop", environments: {}, services: {}, pipelines: {} });
  });

  test("a service without a rollout section gets the rolling defaults", () => {
    const { config } = parseConfig(yaml("project: shop", ...SERVICE_WEB), "slipway.yaml");
    expect(config.services.web?.rollout).toEqual({
      strategy: "rolling",
      maxSurge: 1,
      maxUnavailable: 0,
      keepWarm: "5m",
      progressDeadline: "10m",
    });
  });

  test("the parsed config is frozen", () => {
    const { config } = parseConfig(yaml("project: shop", ...SERVICE_WEB), "slipway.yaml");
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.services.web?.run)).toBe(true);
  });
});

describe("located issues", () => {
  test("malformed YAML is reported where the parser gave up, with the mapping it was reading", () => {
    const source = yaml(
      "project: shop",
      "services:",
      "  web:",
      "    run: { command: node, instances: 2",
      "    route: {}",
    );
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 5,
        column: 5,
        path: "services.web",
        message: "invalid YAML: Flow map in block collection must be sufficiently indented and end with a }",
      },
    ]);
  });

  test("an unclosed list at the end of the file is reported at the end", () => {
    const issue = issuesOf(yaml("project: shop", "services:", "  web: { run: [", ""))[0];
    expect(issue).toMatchObject({ line: 5, column: 1, path: "" });
    expect(issue?.message).toMatch(/^invalid YAML: Flow sequence in block collection must be sufficiently/);
  });

  test("a reserved character starting a value is reported at that character", () => {
    expect(issuesOf(yaml("project: shop", "services:", "  web:", "    run: @x"))[0]).toMatchObject({
      line: 4,
      column: 10,
      path: "services.web.run",
      message: "invalid YAML: Plain value cannot start with reserved character @",
    });
  });

  test("a nested mapping on a scalar's line is a syntax error", () => {
    expect(issuesOf(yaml("project: shop", "  bad: indent"))[0]).toMatchObject({
      line: 1,
      column: 10,
      path: "project",
      message: "invalid YAML: Nested mappings are not allowed in compact mappings",
    });
  });

  test("a wrong type names what was expected and what was found", () => {
    const source = yaml("project: shop", ...SERVICE_WEB, "      instances: two");
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 7,
        column: 18,
        path: "services.web.run.instances",
        message: 'expected an integer from 1 to 100, found "two"',
      },
    ]);
  });

  test("an unknown key points at the key and suggests the nearest valid one", () => {
    const source = yaml("project: shop", ...SERVICE_WEB, "      replicas: 3");
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 7,
        column: 7,
        path: "services.web.run.replicas",
        message: 'unknown key "replicas" (did you mean "instances"?)',
        suggestion: "instances",
      },
    ]);
  });

  test("a misspelled key is matched by edit distance", () => {
    const issue = issuesOf(yaml("project: shop", ...SERVICE_WEB, "      instnaces: 3"))[0];
    expect(issue).toMatchObject({ line: 7, column: 7, suggestion: "instances" });
  });

  test("a key from elsewhere suggests its place: strategy belongs under rollout", () => {
    const issue = issuesOf(yaml("project: shop", ...SERVICE_WEB, "    strategy: canary"))[0];
    expect(issue).toMatchObject({
      line: 7,
      column: 5,
      path: "services.web.strategy",
      message: 'unknown key "strategy" (did you mean "rollout.strategy"?)',
      suggestion: "rollout.strategy",
    });
  });

  test("an unknown key with no near match lists the valid keys", () => {
    const issue = issuesOf(yaml("project: shop", ...SERVICE_WEB, "      zzz: 1"))[0];
    expect(issue?.message).toBe(
      'unknown key "zzz"; expected one of: command, instances, env, secrets, stopTimeout',
    );
    expect(issue?.suggestion).toBeUndefined();
  });

  test("a misspelled key inside a pipeline is located and suggested like any other", () => {
    const source = yaml(
      "project: shop",
      "pipelines:",
      "  release:",
      "    on: { push: {} }",
      "    jobs: { test: { steps: [ { run: npm test } ], timout: 5m } }",
    );
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 5,
        column: 51,
        path: "pipelines.release.jobs.test.timout",
        message: 'unknown key "timout" (did you mean "timeout"?)',
        suggestion: "timeout",
      },
    ]);
  });

  test("a missing required key points at the map that should hold it", () => {
    const source = yaml(
      "project: shop",
      "services:",
      "  web:",
      "    route: { path: / }",
      "    run:",
      "      instances: 2",
    );
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 6,
        column: 7,
        path: "services.web.run.command",
        message: 'missing required key "command"',
      },
    ]);
  });

  test("a missing project points at the top of the file", () => {
    expect(issuesOf(yaml("# shop", "services: {}"))).toEqual([
      {
        file: "slipway.yaml",
        line: 2,
        column: 1,
        path: "project",
        message: 'missing required key "project"',
      },
    ]);
  });

  test('a duration written as "5 minutes" is refused with examples', () => {
    const source = yaml("project: shop", ...SERVICE_WEB, "      stopTimeout: 5 minutes");
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 7,
        column: 20,
        path: "services.web.run.stopTimeout",
        message: 'expected a duration such as 500ms, 30s, 5m, 1h30m; found "5 minutes"',
      },
    ]);
  });

  test("two services with the same name are reported at the second", () => {
    const source = yaml(
      "project: shop",
      "services:",
      "  web:",
      "    route: { path: / }",
      "    run: { command: a }",
      "  web:",
      "    route: { path: /b }",
      "    run: { command: b }",
    );
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 6,
        column: 3,
        path: "services.web",
        message: 'two services are named "web"; names must be unique',
      },
    ]);
  });

  test("a duplicate key elsewhere says keys must be unique", () => {
    expect(issuesOf(yaml("project: shop", "project: shop"))[0]).toMatchObject({
      line: 2,
      column: 1,
      path: "project",
      message: 'duplicate key "project"; a key may appear only once in a mapping',
    });
  });

  test("a bad name is reported at the key", () => {
    const source = yaml("project: shop", "services:", "  Web:", "    route: {}", "    run: { command: a }");
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 3,
        column: 3,
        path: "services.Web",
        message: 'expected a lowercase name of letters, digits and "-", starting with a letter; found "Web"',
      },
    ]);
  });

  test("every issue is reported in one pass, in file order", () => {
    const source = yaml(
      "project: Shop",
      "environments:",
      '  prod: { router: { listen: ":8080" } }',
      ...SERVICE_WEB,
      "      instances: 0",
      "    rollout: { strategy: canary }",
    );
    expect(issuesOf(source).map((i) => [i.line, i.column, i.path])).toEqual([
      [1, 10, "project"],
      [3, 29, "environments.prod.router.listen"],
      [9, 18, "services.web.run.instances"],
      [10, 14, "services.web.rollout"],
    ]);
  });
});

describe("problems with the whole file", () => {
  test.each([[""], ["# only a comment\n"], ["\n\n"]])("an empty file (%j) has no position", (source) => {
    expect(issuesOf(source)).toEqual([
      {
        file: "slipway.yaml",
        line: 0,
        column: 0,
        path: "",
        message: 'the file is empty; expected a mapping with at least the key "project"',
      },
    ]);
  });

  test("a list at the top level is refused", () => {
    expect(issuesOf("- project: shop\n")).toEqual([
      {
        file: "slipway.yaml",
        line: 1,
        column: 1,
        path: "",
        message: 'expected a mapping of keys such as "project" and "services" at the top level, found a list',
      },
    ]);
  });

  test("a plain string at the top level is refused, quoting it", () => {
    expect(issuesOf("shop\n")[0]?.message).toMatch(/at the top level, found "shop"$/);
  });

  test("several YAML documents in one file are refused", () => {
    expect(issuesOf(yaml("project: shop", "---", "project: other"))[0]).toMatchObject({
      line: 2,
      column: 1,
      message: "expected one YAML document, found several separated by ---",
    });
  });

  test("a document that expands aliases without bound is refused", () => {
    const bomb = yaml(
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
    );
    expect(issuesOf(bomb)[0]?.message).toMatch(/^invalid YAML: /);
  });

  test("the ConfigError message leads with the first issue's location", () => {
    expect(() => parseConfig("project: Shop\n", "slipway.yaml")).toThrow(
      /^slipway\.yaml:1:10: expected a lowercase/,
    );
  });
});

describe("loadConfigFile", () => {
  test("a missing file is a ConfigError naming the path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slipway-config-"));
    try {
      const path = join(dir, "slipway.yaml");
      const error: unknown = await loadConfigFile(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe("invalid_config");
      expect((error as ConfigError).issues).toEqual([
        {
          file: path,
          line: 0,
          column: 0,
          path: "",
          message: "cannot read the file: it does not exist (run `slipway init` to create one)",
        },
      ]);
      await expect(loadConfigFile(dir)).rejects.toThrow("cannot read the file: it is a directory");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("issues of a file on disk carry its path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slipway-config-"));
    try {
      const path = join(dir, "slipway.yaml");
      await writeFile(path, "project: shop\nservice: {}\n");
      const error = (await loadConfigFile(path).catch((e: unknown) => e)) as ConfigError;
      expect(error.issues[0]).toMatchObject({ file: path, line: 2, column: 1, suggestion: "services" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
