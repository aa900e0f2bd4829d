import { readFile } from "node:fs/promises";
import { describe, expect, test } from "vitest";
import { ConfigError, type ConfigIssue } from "../util/index.js";
import { parseConfig } from "./load.js";
import { computePlan, desiredObjects } from "./plan.js";
import { stepKind } from "./schema-pipeline-step.js";

const EXAMPLE = await readFile(new URL("./testdata/pipelines-example.yaml", import.meta.url), "utf8");

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

const brief = (issues: ConfigIssue[]) =>
  issues.map(({ line, column, path, message }) => ({ line, column, path, message }));

/** Nine lines of config ending inside pipeline `release`; `lines` continue it at 4 spaces' indent. */
const withPipeline = (...lines: string[]) =>
  yaml(
    "project: shop",
    "environments:",
    "  staging: { router: { listen: 127.0.0.1:8081 } }",
    "  production: { router: { listen: 127.0.0.1:8080 } }",
    "services:",
    "  web: { route: {}, run: { command: node server.js } }",
    "pipelines:",
    "  release:",
    "    on: { push: {} }",
    ...lines,
  );

/** Like {@link withPipeline} with `jobs:` on line 10; `lines` are jobs at 6 spaces' indent from line 11. */
const withJobs = (...lines: string[]) => withPipeline("    jobs:", ...lines);

const P = "pipelines.release";

describe("a complete pipeline", () => {
  test("the seed pipeline parses, from lint to a production canary, with every default filled in", () => {
    const { pipelines } = parseConfig(EXAMPLE, "slipway.yaml").config;
    const release = pipelines.release;
    expect(Object.keys(release?.jobs ?? {})).toEqual([
      "lint",
      "test",
      "security",
      "build",
      "staging",
      "production",
    ]);
    expect(release?.concurrency).toEqual({ group: "release-${{ branch }}", cancelInProgress: false });
    expect(release?.on.manual?.inputs?.note).toEqual({ type: "string", required: true });
    expect(release?.jobs.lint).toMatchObject({ timeout: "30m", continueOnError: false });
    expect(release?.jobs.production?.retry).toEqual({ attempts: 1, backoff: "5s" });
    expect(release?.jobs.production?.steps[0]).toEqual({
      approval: { count: 1, approvers: ["alice", "bob"], allowSelfApproval: false, timeout: "24h" },
    });
    expect(release?.jobs.staging?.steps[0]).toEqual({
      deploy: "web",
      env: "staging",
      version: "${{ needs.build.outputs.version }}-${{ run.number }}",
      artifact: "build",
    });
    const nightly = pipelines.nightly;
    expect(nightly?.on.schedule).toEqual([
      { cron: "0 3 * * 1-5", timezone: "Europe/Berlin" },
      { cron: "@weekly", timezone: "UTC" },
    ]);
    // The format follows the file's extension, and the file defaults by format.
    expect(nightly?.jobs.e2e?.steps[1]).toEqual({
      gate: { coverage: { file: "coverage/coverage-summary.json", format: "istanbul", min: 60 } },
    });
    expect(release?.jobs.test?.steps.map(stepKind)).toEqual(["run", "gate"]);
    expect(release?.jobs.production?.steps.map(stepKind)).toEqual(["approval", "deploy", "run"]);
    expect(nightly?.jobs.e2e?.steps.map(stepKind)).toEqual(["run", "gate", "artifact"]);
  });

  test("the pipeline of the product contract parses as written", () => {
    const source = yaml(
      "project: shop",
      "environments:",
      "  staging: { router: { listen: 127.0.0.1:8081 } }",
      "  production: { router: { listen: 127.0.0.1:8080 } }",
      "services:",
      "  web: { route: {}, run: { command: node server.js } }",
      "pipelines:",
      "  release:",
      "    on: { push: { branches: [main] } }",
      "    jobs:",
      "      test:   { steps: [ { run: npm test }, { gate: { coverage: { min: 80 } } } ] }",
      "      build:  { needs: [test], steps: [ { run: npm run build } ], artifacts: [dist/] }",
      "      staging:",
      "        needs: [build]",
      '        steps: [ { deploy: web, env: staging }, { run: ./smoke-test.sh "$SLIPWAY_ENV_URL" } ]',
      "      production: { needs: [staging], steps: [ { deploy: web, env: production } ] }",
    );
    const release = parseConfig(source, "slipway.yaml").config.pipelines.release;
    expect(release?.jobs.test?.steps[1]).toEqual({
      gate: { coverage: { file: "coverage/lcov.info", format: "lcov", min: 80 } },
    });
    expect(release?.jobs.production?.steps[0]).toEqual({ deploy: "web", env: "production" });
  });

  test("pipelines are stored objects of kind pipeline, planned after services", () => {
    const objects = desiredObjects(parseConfig(EXAMPLE, "slipway.yaml").config);
    expect(objects.map((o) => `${o.kind} ${o.name}`).slice(-3)).toEqual([
      "service web",
      "pipeline nightly",
      "pipeline release",
    ]);
    const plan = computePlan([], objects);
    expect(plan.changes.at(-1)).toMatchObject({ action: "create", kind: "pipeline", name: "release" });
    expect(plan.changes.at(-1)?.fields).toContainEqual({ path: "jobs.build.outputs", after: ["version"] });
  });
});

describe("triggers", () => {
  test("a cron expression names the field that is wrong and what it found", () => {
    const source = withJobs("      a: { steps: [ { run: x } ] }").replace(
      "    on: { push: {} }",
      '    on: { schedule: [ { cron: "0 3 * * 1-8" } ] }',
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 9,
        column: 31,
        path: `${P}.on.schedule[0].cron`,
        message: 'cron "0 3 * * 1-8": day of week 8 is out of range (0 to 7, or sun to sat)',
      },
    ]);
  });

  test("a cron expression with six fields says to drop the seconds", () => {
    const source = withJobs("      a: { steps: [ { run: x } ] }").replace(
      "    on: { push: {} }",
      '    on: { schedule: [ { cron: "0 0 3 * * *" } ] }',
    );
    expect(issuesOf(source)[0]?.message).toBe(
      'cron "0 0 3 * * *": expected 5 fields (minute hour day-of-month month day-of-week) such as ' +
        '"0 3 * * 1-5", found 6; schedules run to the minute, so leave out the seconds field',
    );
  });

  test("a schedule in an unknown time zone names the zone", () => {
    const source = withJobs("      a: { steps: [ { run: x } ] }").replace(
      "    on: { push: {} }",
      '    on: { schedule: [ { cron: "0 3 * * *", timezone: Europe/Berln } ] }',
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 9,
        column: 54,
        path: `${P}.on.schedule[0].timezone`,
        message: 'unknown time zone "Europe/Berln" (expected an IANA name such as Europe/Berlin or UTC)',
      },
    ]);
  });

  test("a pipeline needs at least one trigger", () => {
    const source = withJobs("      a: { steps: [ { run: x } ] }").replace("on: { push: {} }", "on: {}");
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 9,
        column: 9,
        path: `${P}.on`,
        message: "a pipeline needs a trigger: push, schedule or manual",
      },
    ]);
  });

  test("a glob list of only exclusions would match nothing", () => {
    const source = withJobs("      a: { steps: [ { run: x } ] }").replace(
      "on: { push: {} }",
      'on: { push: { paths: ["!docs/**"] } }',
    );
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.on.push.paths`,
      message:
        'every pattern starts with "!", so nothing matches; put "**" first to mean everything but these',
    });
  });

  test.each([
    [
      "{ type: choice, options: [staging, production], default: prod }",
      ".default",
      'default "prod" is not one of the options: staging, production',
    ],
    ["{ type: choice }", "", "a choice input needs options, e.g. options: [staging, production]"],
    [
      "{ type: boolean, default: 'no' }",
      ".default",
      'expected true or false for a boolean input, found "no"',
    ],
    [
      "{ type: string, options: [a] }",
      ".options",
      "options apply only to type choice; this input is a string",
    ],
    ["{ type: choice, options: [a, a] }", ".options[1]", 'option "a" is listed twice'],
  ])("the manual input %s is refused", (input, at, message) => {
    const source = withJobs("      a: { steps: [ { run: x } ] }").replace(
      "on: { push: {} }",
      `on: { manual: { inputs: { target: ${input} } } }`,
    );
    const path = `${P}.on.manual.inputs.target${at}`;
    expect(issuesOf(source)).toEqual([expect.objectContaining({ path, message })]);
  });
});

describe("jobs and needs", () => {
  test("a needs cycle is named from the first job in it", () => {
    const source = withJobs(
      "      lint: { steps: [ { run: x } ] }",
      "      test: { needs: [lint, build], steps: [ { run: x } ] }",
      "      build: { needs: [test], steps: [ { run: x } ] }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 12,
        column: 29,
        path: `${P}.jobs.test.needs[1]`,
        message: "needs form a cycle: test → build → test",
      },
    ]);
  });

  test("a longer cycle and a job that needs itself are each reported once", () => {
    const source = withJobs(
      "      a: { needs: [c], steps: [ { run: x } ] }",
      "      b: { needs: [a], steps: [ { run: x } ] }",
      "      c: { needs: [b], steps: [ { run: x } ] }",
      "      d: { needs: [d], steps: [ { run: x } ] }",
    );
    expect(issuesOf(source).map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      `${P}.jobs.a.needs[0]: needs form a cycle: a → c → b → a`,
      `${P}.jobs.d.needs[0]: needs form a cycle: d → d`,
    ]);
  });

  test("needs naming an unknown job suggests the closest name, or lists the jobs", () => {
    const source = withJobs(
      "      build: { steps: [ { run: x } ] }",
      "      test: { needs: [buidl, deploy], steps: [ { run: x } ] }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 12,
        column: 23,
        path: `${P}.jobs.test.needs[0]`,
        message: 'no job named "buidl" in this pipeline (did you mean "build"?)',
      },
      {
        line: 12,
        column: 30,
        path: `${P}.jobs.test.needs[1]`,
        message: 'no job named "deploy" in this pipeline; declared: build, test',
      },
    ]);
  });

  test("a job listed twice in needs is refused", () => {
    const source = withJobs(
      "      a: { steps: [ { run: x } ] }",
      "      b: { needs: [a, a], steps: [ { run: x } ] }",
    );
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.jobs.b.needs[1]`,
      message: "a is listed twice in needs",
    });
  });

  test("a job with no steps is refused, and so is a pipeline with no jobs", () => {
    expect(brief(issuesOf(withJobs("      a: { steps: [] }")))).toEqual([
      { line: 11, column: 19, path: `${P}.jobs.a.steps`, message: "a job needs at least one step" },
    ]);
    expect(brief(issuesOf(withPipeline("    jobs: {}")))).toEqual([
      { line: 10, column: 11, path: `${P}.jobs`, message: "a pipeline needs at least one job" },
    ]);
    expect(issuesOf(withPipeline("    env: {}"))[0]).toMatchObject({
      path: `${P}.jobs`,
      message: 'missing required key "jobs"',
    });
  });

  test("retry attempts start at 1, which means no retry", () => {
    const source = withJobs("      a: { retry: { attempts: 0 }, steps: [ { run: x } ] }");
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 11,
        column: 31,
        path: `${P}.jobs.a.retry.attempts`,
        message: "expected an integer from 1 to 10, found 0",
      },
    ]);
  });

  test("a step may not outlast its job", () => {
    const source = withJobs("      a: { timeout: 10m, steps: [ { run: x, timeout: 1h } ] }");
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.jobs.a.steps[0].timeout`,
      message: "the step's timeout 1h is longer than its job's timeout 10m",
    });
  });

  test("output names are listed once", () => {
    const source = withJobs("      a: { outputs: [version, version], steps: [ { run: x } ] }");
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.jobs.a.outputs[1]`,
      message: "output version is listed twice",
    });
  });

  test("a secret may not also be a variable, and SLIPWAY_ names are reserved", () => {
    const source = withPipeline(
      "    env: { NPM_TOKEN: x, SLIPWAY_OUTPUT: y }",
      "    secrets: [NPM_TOKEN]",
      "    jobs: { a: { steps: [ { run: x } ] } }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 10,
        column: 26,
        path: `${P}.env.SLIPWAY_OUTPUT`,
        message: "names starting with SLIPWAY_ are set by Slipway; rename SLIPWAY_OUTPUT",
      },
      {
        line: 11,
        column: 15,
        path: `${P}.secrets[0]`,
        message: "NPM_TOKEN is both a secret and in env; keep one",
      },
    ]);
  });

  test("every problem is reported in one pass, even when fields have issues of their own", () => {
    const source = withJobs(
      "      a: { needs: [b], timeout: soon, steps: [ { run: x, shel: bash } ] }",
      "      b: { needs: [a], steps: [ { deploy: api, env: staging } ] }",
    );
    expect(issuesOf(source).map((issue) => issue.path)).toEqual([
      `${P}.jobs.a.needs[0]`,
      `${P}.jobs.a.timeout`,
      `${P}.jobs.a.steps[0].shel`,
      `${P}.jobs.b.steps[0].deploy`,
    ]);
  });
});

describe("steps", () => {
  test.each([
    ["{ name: nothing }", "none"],
    ["{ run: npm test, deploy: web, env: staging }", "run and deploy"],
    [
      "{ gate: { junit: a.xml }, cache: { key: k, paths: [a] }, artifact: { name: a, paths: [a] } }",
      "gate, artifact and cache",
    ],
  ])("a step %s needs exactly one kind (found %s)", (step, found) => {
    expect(brief(issuesOf(withJobs(`      a: { steps: [ ${step} ] }`)))).toEqual([
      {
        line: 11,
        column: 21,
        path: `${P}.jobs.a.steps[0]`,
        message: `a step needs exactly one of run, gate, deploy, approval, artifact, cache; found ${found}`,
      },
    ]);
  });

  test("a step written as a bare command says what a step looks like", () => {
    expect(brief(issuesOf(withJobs("      a: { steps: [ npm test ] }")))).toEqual([
      {
        line: 11,
        column: 21,
        path: `${P}.jobs.a.steps[0]`,
        message: 'expected a step such as { run: npm test }, found "npm test"',
      },
    ]);
  });

  test("artifact as text is a deploy option, not a way to save files", () => {
    expect(issuesOf(withJobs("      a: { steps: [ { artifact: dist } ] }"))[0]?.message).toBe(
      "a step needs exactly one of run, gate, deploy, approval, artifact, cache; found none; artifact as text " +
        "names what a deploy step deploys, to save files write artifact: { name, paths }",
    );
  });

  test("options of one kind are refused on another, at the key", () => {
    const source = withJobs(
      "      a: { steps: [ { deploy: web, env: staging, shell: bash, retry: { attempts: 2 } } ] }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 11,
        column: 50,
        path: `${P}.jobs.a.steps[0].shell`,
        message: "shell does not apply to deploy steps",
      },
      {
        line: 11,
        column: 63,
        path: `${P}.jobs.a.steps[0].retry`,
        message: "retry does not apply to deploy steps",
      },
    ]);
  });

  test("env is an environment's name in a deploy step and a mapping of variables in a run step", () => {
    const source = withJobs(
      "      a:",
      "        steps:",
      "          - { deploy: web }",
      "          - { deploy: web, env: { NAME: staging } }",
      "          - { run: x, env: staging }",
      "          - { run: x, env: { CI: true, 1X: a } }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 13,
        column: 13,
        path: `${P}.jobs.a.steps[0]`,
        message: "a deploy step needs env: the environment to deploy to",
      },
      {
        line: 14,
        column: 33,
        path: `${P}.jobs.a.steps[1].env`,
        message: "in a deploy step, env names the environment to deploy to, e.g. env: staging",
      },
      {
        line: 15,
        column: 28,
        path: `${P}.jobs.a.steps[2].env`,
        message:
          'env here is a mapping of variables such as { CI: "true" }; only a deploy step names an environment',
      },
      {
        line: 16,
        column: 34,
        path: `${P}.jobs.a.steps[3].env.CI`,
        message: 'expected a string (quote numbers and booleans, e.g. "3000"); found true',
      },
      {
        line: 16,
        column: 40,
        path: `${P}.jobs.a.steps[3].env.1X`,
        message: 'expected an environment variable name such as NODE_ENV (letters, digits, _); found "1X"',
      },
    ]);
  });

  test("a misspelled key in an artifact step is suggested", () => {
    const source = withJobs("      a: { steps: [ { artifact: { nmae: dist, paths: [dist/] } } ] }");
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 11,
        column: 33,
        path: `${P}.jobs.a.steps[0].artifact.name`,
        message: 'missing required key "name"',
      },
      {
        line: 11,
        column: 35,
        path: `${P}.jobs.a.steps[0].artifact.nmae`,
        message: 'unknown key "nmae" (did you mean "name"?)',
      },
    ]);
  });

  test("a gate checks coverage, junit or both; a coverage file's format must be known", () => {
    expect(issuesOf(withJobs("      a: { steps: [ { gate: {} } ] }"))[0]).toMatchObject({
      path: `${P}.jobs.a.steps[0].gate`,
      message: "a gate needs coverage, junit or both",
    });
    const unknown = withJobs("      a: { steps: [ { gate: { coverage: { file: cov.txt, min: 80 } } } ] }");
    expect(issuesOf(unknown)[0]).toMatchObject({
      path: `${P}.jobs.a.steps[0].gate.coverage.file`,
      message: 'cannot tell the coverage format of "cov.txt"; add format: lcov, cobertura, istanbul',
    });
    const over = withJobs("      a: { steps: [ { gate: { coverage: { min: 120 } } } ] }");
    expect(issuesOf(over)[0]?.message).toBe(
      "expected a percentage of lines from 0 to 100 such as 80, found 120",
    );
  });

  test("an approval cannot need more people than it lists", () => {
    const source = withJobs("      a: { steps: [ { approval: { count: 2, approvers: [alice] } } ] }");
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.jobs.a.steps[0].approval.count`,
      message: "count is 2 but only 1 approvers are listed",
    });
  });

  test("paths stay inside the workspace", () => {
    const source = withJobs(
      "      a: { artifacts: [../secrets], steps: [ { run: x, workingDirectory: /etc } ] }",
    );
    expect(issuesOf(source).map((issue) => issue.message)).toEqual([
      'expected a path relative to the repository root, without ".."; found "../secrets"',
      'expected a path relative to the repository root, without ".."; found "/etc"',
    ]);
  });
});

describe("references to services and environments", () => {
  test("a deploy step names a declared service and a declared environment", () => {
    const source = withJobs("      a: { steps: [ { deploy: wbe, env: prod } ] }");
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 11,
        column: 31,
        path: `${P}.jobs.a.steps[0].deploy`,
        message: 'no service named "wbe" (did you mean "web"?)',
      },
      {
        line: 11,
        column: 41,
        path: `${P}.jobs.a.steps[0].env`,
        message: 'no environment named "prod"; declared: staging, production',
      },
    ]);
  });

  test("a job's environment must be declared", () => {
    const source = withJobs("      a: { environment: prodution, steps: [ { run: x } ] }");
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 11,
        column: 25,
        path: `${P}.jobs.a.environment`,
        message: 'no environment named "prodution" (did you mean "production"?)',
      },
    ]);
  });

  test("with nothing declared, the message says so", () => {
    const source = yaml(
      "project: shop",
      "pipelines:",
      "  release: { on: { push: {} }, jobs: { a: { steps: [ { deploy: web, env: staging } ] } } }",
    );
    expect(issuesOf(source).map((issue) => issue.message)).toEqual([
      'no service named "web"; none are declared',
      'no environment named "staging"; none are declared',
    ]);
  });
});

describe("expressions", () => {
  test("a condition that does not parse says where", () => {
    const source = withJobs(`      a: { if: "success() &&", steps: [ { run: x } ] }`);
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 11,
        column: 16,
        path: `${P}.jobs.a.if`,
        message: 'cannot read the expression: expected a value after "&&" at character 13',
      },
    ]);
  });

  test("an expression in a string that does not parse says where", () => {
    const source = withJobs(`      a: { steps: [ { run: "echo \${{ branch = 'main' }}" } ] }`);
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.jobs.a.steps[0].run`,
      message: 'cannot read the expression: unexpected "="; compare with == at character 17',
    });
  });

  test("a condition written as text true is quoted, not a boolean", () => {
    expect(issuesOf(withJobs("      a: { if: false, steps: [ { run: x } ] }"))[0]?.message).toBe(
      `expected a condition as text such as "success() && branch == 'main'" (quote true and false), found false`,
    );
  });

  test("needs.JOB is readable only for jobs listed in needs, and only their declared outputs", () => {
    const source = withJobs(
      "      build: { outputs: [version], steps: [ { run: x } ] }",
      "      lint: { steps: [ { run: x } ] }",
      "      deploy:",
      "        needs: [build]",
      "        if: needs.lint.result == 'success'",
      "        steps:",
      "          - { run: 'echo ${{ needs.build.outputs.vesion }} ${{ needs.deploy.result }}' }",
    );
    expect(brief(issuesOf(source))).toEqual([
      {
        line: 15,
        column: 13,
        path: `${P}.jobs.deploy.if`,
        message: "needs.lint is not available: job deploy does not list lint in needs",
      },
      {
        line: 17,
        column: 20,
        path: `${P}.jobs.deploy.steps[0].run`,
        message: 'needs.build.outputs.vesion: job build has no output vesion (did you mean "version"?)',
      },
      {
        line: 17,
        column: 20,
        path: `${P}.jobs.deploy.steps[0].run`,
        message: "needs.deploy: a job cannot read its own result",
      },
    ]);
  });

  test("a job that declares no outputs says so", () => {
    const source = withJobs(
      "      build: { steps: [ { run: x } ] }",
      "      deploy: { needs: [build], steps: [ { run: 'echo ${{ needs.build.outputs.v }}' } ] }",
    );
    expect(issuesOf(source)[0]?.message).toBe(
      "needs.build.outputs.v: job build declares no outputs; list v in its outputs",
    );
  });

  test("the concurrency group runs before any job, so it cannot read needs", () => {
    const source = withPipeline(
      '    concurrency: { group: "deploy-${{ needs.a.result }}" }',
      "    jobs: { a: { steps: [ { run: x } ] } }",
    );
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.concurrency.group`,
      message: "needs.a: needs can only be read inside a job",
    });
  });

  test("inputs must be declared, and env names a declared variable but never a secret", () => {
    const source = withPipeline(
      "    env: { NODE_ENV: test }",
      "    secrets: [NPM_TOKEN]",
      "    jobs:",
      "      a:",
      "        if: inputs.target == 'production'",
      "        steps:",
      "          - run: echo ${{ env.NODE_EVN }} ${{ env.NPM_TOKEN }}",
    );
    expect(issuesOf(source).map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      `${P}.jobs.a.if: inputs.target: the pipeline declares no inputs (on.manual.inputs)`,
      `${P}.jobs.a.steps[0].run: env.NODE_EVN: no variable NODE_EVN is declared in env here (did you mean "NODE_ENV"?)`,
      `${P}.jobs.a.steps[0].run: env.NPM_TOKEN is a secret, and secrets are kept out of expressions; read $NPM_TOKEN in the command`,
    ]);
  });

  test("a misspelled input is suggested", () => {
    const source = withJobs("      a: { if: \"inputs.tagret == 'x'\", steps: [ { run: x } ] }").replace(
      "on: { push: {} }",
      "on: { manual: { inputs: { target: {} } } }",
    );
    expect(issuesOf(source)[0]?.message).toBe(
      'inputs.tagret: no input named tagret (did you mean "target"?)',
    );
  });

  test("a step's own variables are visible to its command but not to its other variables", () => {
    const source = withJobs(
      "      a:",
      "        env: { A: a }",
      "        steps:",
      "          - run: echo ${{ env.A }} ${{ env.B }}",
      "            env: { B: b, C: '${{ env.B }}' }",
    );
    expect(issuesOf(source).map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      `${P}.jobs.a.steps[0].env.C: env.B: no variable B is declared in env here; declared: A`,
    ]);
  });

  test("status functions belong in if, and hashFiles in steps", () => {
    const source = withJobs(
      "      a:",
      "        if: hashFiles('x') == ''",
      "        env: { OK: '${{ success() }}' }",
      "        steps: [ { run: x } ]",
    );
    expect(issuesOf(source).map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      `${P}.jobs.a.if: hashFiles() can only be used in steps`,
      `${P}.jobs.a.env.OK: success() can only be used in if`,
    ]);
  });
});

describe("artifacts", () => {
  test("a deploy step names an artifact saved by a job it needs", () => {
    const source = withJobs(
      "      build: { artifacts: [dist/], steps: [ { run: x } ] }",
      "      docs: { steps: [ { run: x }, { artifact: { name: site, paths: [site/] } } ] }",
      "      ship:",
      "        needs: [build]",
      "        steps:",
      "          - { deploy: web, env: staging, artifact: biuld }",
      "          - { deploy: web, env: staging, artifact: site }",
      "          - { deploy: web, env: staging, artifact: bundle }",
      "          - { artifact: { name: bundle, paths: [out/] } }",
    );
    expect(issuesOf(source).map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      `${P}.jobs.ship.steps[0].artifact: no artifact named "biuld" is saved in this pipeline (did you mean "build"?)`,
      `${P}.jobs.ship.steps[1].artifact: artifact "site" is saved by job docs, which job ship does not need; add it to needs`,
      `${P}.jobs.ship.steps[2].artifact: artifact "bundle" is saved by step 4 of job ship, after this step runs`,
    ]);
  });

  test("an artifact saved by a job two needs away may be deployed", () => {
    const source = withJobs(
      "      build: { artifacts: [dist/], steps: [ { run: x } ] }",
      "      test: { needs: [build], steps: [ { run: x } ] }",
      "      ship: { needs: [test], steps: [ { deploy: web, env: staging, artifact: build } ] }",
    );
    expect(parseConfig(source, "slipway.yaml").config.pipelines.release?.jobs.ship?.steps[0]).toMatchObject({
      artifact: "build",
    });
  });

  test("artifact names are unique in a pipeline; a job's own artifacts carry its name", () => {
    const source = withJobs(
      "      build: { artifacts: [dist/], steps: [ { run: x } ] }",
      "      pack: { steps: [ { artifact: { name: build, paths: [out/] } } ] }",
    );
    expect(issuesOf(source)[0]).toMatchObject({
      path: `${P}.jobs.pack.steps[0].artifact.name`,
      message: `artifact name "build" is already used by job build's artifacts`,
    });
  });
});
