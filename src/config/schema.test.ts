import { describe, expect, test } from "vitest";
import { ConfigError, type ConfigIssue } from "../util/index.js";
import { parseConfig } from "./load.js";
import { parseListenAddress } from "./names.js";
import { configSchema } from "./schema.js";

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

/** A config with one service `web`; `lines` are appended under it (4-space indent for its keys). */
const withService = (...lines: string[]) =>
  yaml(
    "project: shop",
    "services:",
    "  web:",
    "    route: { path: / }",
    "    run: { command: node server.js }",
    ...lines,
  );

/** A config with one environment `production`; `lines` are appended under it. */
const withEnvironment = (...lines: string[]) =>
  yaml("project: shop", "environments:", "  production:", "    router: { listen: 127.0.0.1:8080 }", ...lines);

const brief = (issues: ConfigIssue[]) =>
  issues.map(({ line, column, path, message }) => ({ line, column, path, message }));

describe("environments", () => {
  test("a freeze window that does not parse is reported with its text", () => {
    const source = withEnvironment('    protection: { freeze: ["fri 16:00 - mon 8 Europe/Berlin"] }');
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 5,
        column: 28,
        path: "environments.production.protection.freeze[0]",
        message:
          'freeze window "fri 16:00 - mon 8 Europe/Berlin": expected a time as HH:MM from 00:00 to 23:59, found "8"',
      },
    ]);
  });

  test("a freeze window in an unknown time zone names the zone", () => {
    const source = withEnvironment(
      "    protection:",
      "      freeze:",
      "        - fri 16:00 - mon 08:00 Europe/Berln",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 7,
        column: 11,
        path: "environments.production.protection.freeze[0]",
        message:
          'freeze window "fri 16:00 - mon 08:00 Europe/Berln": unknown time zone "Europe/Berln" ' +
          "(expected an IANA name such as Europe/Berlin or UTC)",
      },
    ]);
  });

  test("more approvals than listed approvers can never be satisfied", () => {
    const source = withEnvironment("    protection: { approvals: 2, approvers: [ana] }");
    expect(issuesOf(source)[0]).toMatchObject({
      path: "environments.production.protection.approvals",
      message: "approvals is 2 but only 1 approvers are listed",
    });
  });

  test("two environments may not listen on the same address", () => {
    const source = yaml(
      "project: shop",
      "environments:",
      "  staging: { router: { listen: 127.0.0.1:8080 } }",
      "  production: { router: { listen: 127.0.0.1:8080 } }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 4,
        column: 35,
        path: "environments.production.router.listen",
        message: "environments staging and production listen on the same address; each needs its own",
      },
    ]);
  });

  test.each([
    ["127.0.0.1:8080", { host: "127.0.0.1", port: 8080 }],
    ["0.0.0.0:80", { host: "0.0.0.0", port: 80 }],
    ["[::1]:8443", { host: "::1", port: 8443 }],
    ["edge.internal:65535", { host: "edge.internal", port: 65535 }],
    ["localhost:1", { host: "localhost", port: 1 }],
  ])("accepts the listen address %s", (text, address) => {
    expect(parseListenAddress(text)).toEqual(address);
  });

  test.each([
    ":8080",
    "8080",
    "127.0.0.1",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "::1:80",
    "[nope]:80",
    "a_b:80",
    "h:8x",
  ])("refuses the listen address %j", (text) => {
    expect(parseListenAddress(text)).toBeUndefined();
  });
});

describe("services", () => {
  test("a percentage out of range names the allowed range", () => {
    const source = withService(
      "    rollout:",
      "      analysis:",
      "        checks: [ { metric: error-rate, max: 150% } ]",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 8,
        column: 46,
        path: "services.web.rollout.analysis.checks[0].max",
        message: 'expected a percentage from 0% to 100% for error-rate, found "150%"',
      },
    ]);
  });

  test("a canary without steps is refused at its rollout", () => {
    const source = withService("    rollout:", "      strategy: canary");
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 7,
        column: 7,
        path: "services.web.rollout",
        message: "strategy canary needs steps, e.g. steps: [{ weight: 10, pause: 1m }]",
      },
    ]);
  });

  test("canary weights must increase", () => {
    const source = withService(
      "    rollout: { strategy: canary, steps: [ { weight: 50 }, { weight: 50 } ] }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 6,
        column: 69,
        path: "services.web.rollout.steps[1].weight",
        message: "step weights must increase; step 2 has weight 50 after 50",
      },
    ]);
  });

  test("steps are refused for strategies other than canary", () => {
    const source = withService("    rollout: { strategy: blue-green, steps: [ { weight: 50 } ] }");
    expect(issuesOf(source)[0]).toMatchObject({
      path: "services.web.rollout.steps",
      message: "steps apply only to strategy canary; this rollout uses blue-green",
    });
  });

  test('a pause is a duration or "until-promote"', () => {
    const ok = withService(
      "    rollout: { strategy: canary, steps: [ { weight: 10, pause: until-promote } ] }",
    );
    expect(parseConfig(ok, "slipway.yaml").config.services.web?.rollout.steps?.[0]?.pause).toBe(
      "until-promote",
    );
    const bad = withService("    rollout: { strategy: canary, steps: [ { weight: 10, pause: forever } ] }");
    expect(issuesOf(bad)[0]?.message).toBe(
      'expected a duration such as 30s or "until-promote", found "forever"',
    );
  });

  test.each([
    ["0", "0"],
    ["0", '"0%"'],
  ])("maxSurge %s with maxUnavailable %s is refused: nothing could be replaced", (surge, unavailable) => {
    const source = withService(`    rollout: { maxSurge: ${surge}, maxUnavailable: ${unavailable} }`);
    expect(issuesOf(source)[0]?.message).toMatch(/^maxSurge and maxUnavailable cannot both be 0/);
  });

  test("maxSurge takes a count or a percentage", () => {
    const source = withService('    rollout: { maxSurge: "25%", maxUnavailable: 1 }');
    expect(parseConfig(source, "slipway.yaml").config.services.web?.rollout).toMatchObject({
      maxSurge: "25%",
    });
    expect(issuesOf(withService("    rollout: { maxSurge: -1 }"))[0]?.message).toBe(
      "expected an integer of at least 0 or a percentage from 0% to 100% such as 25%, found -1",
    );
  });

  test.each([
    [
      "error-rate",
      "max: 300ms",
      "max",
      'expected a percentage from 0% to 100% for error-rate, found "300ms"',
    ],
    [
      "error-rate",
      "vsBaseline: x1.25",
      "vsBaseline",
      "expected a change in percentage points such as +0.5pp",
    ],
    ["latency-p95", "max: 1%", "max", "expected a duration such as 500ms, 30s, 5m, 1h30m for latency-p95"],
    [
      "latency-p99",
      "vsBaseline: +0.5pp",
      "vsBaseline",
      'expected a ratio such as x1.25 for latency-p99, found "+0.5pp"',
    ],
  ])("a %s check with %s is refused for its unit", (metric, limit, key, message) => {
    const source = withService(`    rollout: { analysis: { checks: [ { metric: ${metric}, ${limit} } ] } }`);
    const issue = issuesOf(source)[0];
    expect(issue?.path).toBe(`services.web.rollout.analysis.checks[0].${key}`);
    expect(issue?.message.startsWith(message)).toBe(true);
  });

  test("a check needs at least one limit", () => {
    const source = withService("    rollout: { analysis: { checks: [ { metric: latency-p50 } ] } }");
    expect(issuesOf(source)[0]).toMatchObject({
      path: "services.web.rollout.analysis.checks[0]",
      message: 'check "latency-p50" needs max, vsBaseline or both',
    });
  });

  test("confidence must lie between 0.5 and 0.999", () => {
    const source = withService(
      "    rollout: { analysis: { confidence: 0.3, checks: [ { metric: error-rate, max: 1% } ] } }",
    );
    expect(issuesOf(source)[0]?.message).toBe("expected a number from 0.5 to 0.999, found 0.3");
  });

  test.each([
    ["{ interval: 5s }", "found none"],
    ["{ http: /healthz, tcp: true }", "found http and tcp"],
  ])("a probe %s needs exactly one kind (%s)", (probe, found) => {
    const source = withService(`    health: { readiness: ${probe} }`);
    expect(issuesOf(source)[0]).toMatchObject({
      path: "services.web.health.readiness",
      message: `a probe needs exactly one of http, tcp or command; ${found}`,
    });
  });

  test("tcp probes are written tcp: true", () => {
    expect(issuesOf(withService("    health: { liveness: { tcp: false } }"))[0]?.message).toBe(
      "expected true, found false",
    );
  });

  test.each([
    ["0", "found 0"],
    ["101", "found 101"],
    ["2.5", "found 2.5"],
  ])("instances: %s is out of range", (value, found) => {
    const source = yaml(
      "project: shop",
      "services:",
      "  web:",
      "    route: {}",
      `    run: { command: a, instances: ${value} }`,
    );
    expect(issuesOf(source)[0]?.message).toBe(`expected an integer from 1 to 100, ${found}`);
  });

  test("two services on the same host and path are refused; a trailing slash is not a new path", () => {
    const source = yaml(
      "project: shop",
      "services:",
      "  web: { route: { path: /api }, run: { command: a } }",
      "  api: { route: { path: /api/ }, run: { command: b } }",
      "  admin: { route: { path: /api, host: admin.example.com }, run: { command: c } }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 4,
        column: 17,
        path: "services.api.route",
        message: "services web and api have the same route; each route needs its own host or path",
      },
    ]);
  });

  test("a route path must start with a slash and a host must be a host name", () => {
    const source = withService(
      "    build: { run: make, artifact: out }",
      "  api: { route: { path: api, host: A_B }, run: { command: b } }",
    );
    expect(issuesOf(source).map((i) => i.message)).toEqual([
      'expected a URL path starting with "/", found "api"',
      'expected a lowercase host name such as shop.example.com, found "A_B"',
    ]);
  });

  test("environment variable names, values and secrets are checked", () => {
    const source = yaml(
      "project: shop",
      "services:",
      "  web:",
      "    route: {}",
      "    run:",
      "      command: a",
      "      env: { 1BAD: x, GOOD: 3 }",
      "      secrets: [SESSION_KEY, bad-name]",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 7,
        column: 14,
        path: "services.web.run.env.1BAD",
        message: 'expected an environment variable name such as NODE_ENV (letters, digits, _); found "1BAD"',
      },
      {
        line: 7,
        column: 29,
        path: "services.web.run.env.GOOD",
        message: 'expected a string (quote numbers and booleans, e.g. "3000"); found 3',
      },
      {
        line: 8,
        column: 30,
        path: "services.web.run.secrets[1]",
        message:
          'expected an environment variable name such as NODE_ENV (letters, digits, _); found "bad-name"',
      },
    ]);
  });

  test("PORT is Slipway's to set, and a name is either a secret or in env", () => {
    const source = yaml(
      "project: shop",
      "services:",
      "  web:",
      "    route: {}",
      "    run: { command: a, env: { PORT: '1', KEY: x }, secrets: [KEY] }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 5,
        column: 31,
        path: "services.web.run.env.PORT",
        message: "PORT is set by Slipway for each instance; remove it from env",
      },
      {
        line: 5,
        column: 62,
        path: "services.web.run.secrets[0]",
        message: "KEY is both a secret and in env; keep one",
      },
    ]);
  });
});

describe("sections", () => {
  test("a scalar where a mapping belongs says so, quoting the scalar", () => {
    const source = yaml("project: shop", "services:", "  web:", "    route: {}", "    run: node server.js");
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 5,
        column: 10,
        path: "services.web.run",
        message: 'expected a mapping, found "node server.js"',
      },
    ]);
  });

  test("a key left empty is found as an empty value", () => {
    expect(brief(issuesOf(yaml("project: shop", "services:")))).toEqual([
      { line: 2, column: 10, path: "services", message: "expected a mapping, found an empty value" },
    ]);
  });
});

describe("configSchema", () => {
  test("unknown keys are errors at every level", () => {
    const result = configSchema.safeParse({ project: "shop", extra: 1 });
    expect(result.error?.issues[0]).toMatchObject({ code: "unrecognized_keys", keys: ["extra"] });
  });

  test("durations stay as written in the parsed output", () => {
    const parsed = configSchema.parse({
      project: "shop",
      services: { web: { route: {}, run: { command: "a", stopTimeout: "1h30m" } } },
    });
    expect(parsed.services.web?.run.stopTimeout).toBe("1h30m");
  });
});
