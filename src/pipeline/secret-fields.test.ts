/**
 * Nothing a step produces reaches the store, the event log or a later job with a secret in clear:
 * outputs holding a secret are refused with a warning, and every other text field a step can fill
 * (failure reasons, gate details, deploy messages, the run's error, event payloads) is masked.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PipelineRun } from "../store/index.js";
import type { Deployer } from "./steps.js";
import { PipelineWorld } from "./test-fixtures.js";
import { RunStateCodec, storedForm } from "./codecs.js";

const SECRET = "probe-S3cret-value-42";
const FORMS = [
  SECRET,
  Buffer.from(SECRET).toString("base64").replace(/=+$/, ""),
  Buffer.from(SECRET).toString("hex"),
];

/** Every regular file under `dir`, with its bytes as latin1 text (so any byte sequence matches). */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path, text: readFileSync(path).toString("latin1") });
  }
  return out;
}

/**
 * Where a form of the secret sits in clear: the run, its events, and (unless `files` is false)
 * every file of the data directory — the database and its WAL, logs, outputs, artifacts.
 */
async function leaks(world: PipelineWorld, run: PipelineRun, files = true): Promise<string[]> {
  const found: string[] = [];
  const stored = JSON.stringify(await world.store.pipelines.getRun(run.id));
  const events = JSON.stringify(await world.store.events.list({ types: ["pipeline."], limit: 1000 }));
  const texts = files ? filesUnder(world.dataDir) : [];
  for (const form of FORMS) {
    if (stored.includes(form)) found.push(`run row: ${form}`);
    if (events.includes(form)) found.push(`events: ${form}`);
    for (const file of texts) if (file.text.includes(form)) found.push(`${file.path}: ${form}`);
  }
  return found;
}

const withSecret = { secret: (name: string) => (name === "PROBE_SECRET" ? SECRET : undefined) };

describe("secrets in what a step produces (real store, checkout and processes)", () => {
  let world: PipelineWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it("refuses an output holding a secret, in clear or encoded, with a warning naming it", async () => {
    world = new PipelineWorld();
    const received = join(world.root, "received");
    await world.start(
      `ci:
  on: { manual: {} }
  secrets: [PROBE_SECRET]
  jobs:
    build:
      outputs: [key, encoded, clean]
      steps:
        - run: |
            echo "key=$PROBE_SECRET" >> "$SLIPWAY_OUTPUT"
            echo "encoded=$(printf %s "$PROBE_SECRET" | base64)" >> "$SLIPWAY_OUTPUT"
            echo "clean=1.2.3" >> "$SLIPWAY_OUTPUT"
    use:
      needs: [build]
      steps:
        - run: echo "got:\${{ needs.build.outputs.key }}:\${{ needs.build.outputs.encoded }}:\${{ needs.build.outputs.clean }}" > ${received}
`,
      {},
      withSecret,
    );
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("succeeded");
    const build = run.jobs.find((j) => j.name === "build");
    expect(build?.outputs).toEqual({ clean: "1.2.3" });
    expect(build?.skippedOutputs).toEqual(["key", "encoded"]);
    // The later job never saw the value, not even in its command line.
    expect(readFileSync(received, "utf8")).toBe("got:::1.2.3\n");
    const log = (await world.engine.logs(run.id, { job: "build" })).map((l) => `${l.stream} ${l.text}`);
    expect(log).toContain("system Skip output 'key' since it may contain secret");
    expect(log).toContain("system Skip output 'encoded' since it may contain secret");
    const skipped = await world.store.events.list({ types: ["pipeline.output.skipped"], limit: 10 });
    expect(skipped.map((e) => (e.payload as { output: string }).output)).toEqual(["key", "encoded"]);
    expect(await leaks(world, run)).toEqual([]);
  }, 60_000);

  it("refuses an output whose name holds the secret, and names it masked", async () => {
    world = await new PipelineWorld().start(
      `ci:
  on: { manual: {} }
  secrets: [PROBE_SECRET]
  jobs:
    build:
      steps:
        - run: echo "$PROBE_SECRET=1" >> "$SLIPWAY_OUTPUT"; echo "fine=2" >> "$SLIPWAY_OUTPUT"
`,
      {},
      withSecret,
    );
    const run = await world.finish(await world.run("ci"));
    expect(run.jobs[0]?.outputs).toEqual({ fine: "2" });
    expect(run.jobs[0]?.skippedOutputs).toEqual(["***"]);
    expect(await leaks(world, run)).toEqual([]);
  }, 60_000);

  it("a rerun of a run stored before outputs were checked passes the kept output on masked", async () => {
    world = new PipelineWorld();
    const received = join(world.root, "received");
    await world.start(
      `ci:
  on: { manual: {} }
  secrets: [PROBE_SECRET]
  jobs:
    build: { outputs: [key], steps: [ { run: "true" } ] }
    use:
      needs: [build]
      steps: [ { run: 'echo "got:\${{ needs.build.outputs.key }}" > ${received}' } ]
`,
      {},
      withSecret,
    );
    const first = await world.finish(await world.run("ci"));
    // What an earlier version stored: the output in clear, and the job that read it failed.
    const state = RunStateCodec.decode(first.state, "run");
    for (const job of state.jobs) {
      if (job.name === "build") job.outputs = { key: SECRET };
      else job.status = "failed";
    }
    await world.store.pipelines.updateRun({
      id: first.id,
      expectedRevision: first.revision,
      status: "failed",
      state: storedForm(RunStateCodec, state),
    });
    const again = await world.finish(await world.engine.rerun(first.id, "local:alice", { failedOnly: true }));
    expect(again.jobs.find((j) => j.name === "build")?.carriedFrom).toBe(first.id);
    expect(readFileSync(received, "utf8")).toBe("got:***\n");
    expect(JSON.stringify(again.state)).not.toContain(SECRET);
  }, 60_000);

  it("masks a failure reason that quotes a file name a step chose, and its event", async () => {
    world = await new PipelineWorld().start(
      `ci:
  on: { manual: {} }
  secrets: [PROBE_SECRET]
  jobs:
    art:
      artifacts: [dist/]
      steps:
        - run: mkdir -p dist && mkfifo "dist/$PROBE_SECRET"
`,
      {},
      withSecret,
    );
    const run = await world.finish(await world.run("ci"));
    expect(run.jobs[0]?.status).toBe("failed");
    expect(run.jobs[0]?.reason).toMatch(/^saving artifacts failed: .*\*\*\*/);
    const failed = await world.store.events.list({ types: ["pipeline.job.failed"], limit: 10 });
    expect((failed[0]?.payload as { reason: string }).reason).toContain("***");
    expect(await leaks(world, run)).toEqual([]);
  }, 60_000);

  it("masks what a gate quotes from a report: test names and failure messages", async () => {
    world = await new PipelineWorld().start(
      `ci:
  on: { manual: {} }
  secrets: [PROBE_SECRET]
  jobs:
    test:
      steps:
        - run: |
            printf '<testsuite name="s"><testcase name="uses %s"><failure message="got %s"/></testcase></testsuite>' "$PROBE_SECRET" "$PROBE_SECRET" > junit.xml
        - gate: { junit: junit.xml }
`,
      {},
      withSecret,
    );
    const run = await world.finish(await world.run("ci"));
    const gate = run.jobs[0]?.steps[1];
    expect(gate?.status).toBe("failed");
    expect(JSON.stringify(gate?.details)).toContain("got ***");
    expect(JSON.stringify(gate?.details)).toContain("uses ***");
    expect(await leaks(world, run)).toEqual([]);
  }, 60_000);

  it("masks a deploy step's messages: the rollout's reason and a deployer's error", async () => {
    const deployer: Deployer = {
      deploy: (input) =>
        input.version === "good"
          ? Promise.resolve({ rolloutId: 7, release: input.version })
          : Promise.reject(new Error(`agent said: bad token ${SECRET}`)),
      wait: () => Promise.resolve({ status: "rolled-back", reason: `health check printed ${SECRET}` }),
      abort: () => Promise.resolve(),
      buildArtifact: () => Promise.resolve("README.md"),
      envUrl: () => Promise.resolve(undefined),
    };
    world = await new PipelineWorld({
      services: "{ web: { route: { path: / }, run: { command: node server.js } } }",
    }).start(
      `ci:
  on: { manual: {} }
  secrets: [PROBE_SECRET]
  jobs:
    staging: { steps: [ { deploy: web, env: staging, version: good } ] }
    other: { steps: [ { deploy: web, env: staging, version: bad } ] }
`,
      {},
      { ...withSecret, deployer },
    );
    const run = await world.finish(await world.run("ci"));
    const staging = run.jobs.find((j) => j.name === "staging");
    expect(staging?.steps[0]?.summary).toMatch(/rolled-back: health check printed \*\*\*$/);
    const other = run.jobs.find((j) => j.name === "other");
    expect(other?.steps[0]?.summary).toBe("agent said: bad token ***");
    expect(await leaks(world, run)).toEqual([]);
  }, 60_000);

  it("masks the run's error when a checkout fails quoting a location", async () => {
    world = await new PipelineWorld().start(
      `ci:
  on: { manual: {} }
  secrets: [PROBE_SECRET]
  jobs:
    one: { steps: [ { run: echo never } ] }
`,
      {},
      withSecret,
    );
    const gone = await world.addRepository("gone", join(world.root, `missing-${SECRET}`));
    const started = await world.engine.startRun({
      pipeline: "ci",
      trigger: {
        kind: "manual",
        actor: "local:alice",
        ref: null,
        sha: null,
        branch: null,
        tag: null,
        repository: gone,
        inputs: {},
      },
    });
    const run = await world.finish(started);
    expect(run.status).toBe("failed");
    const state = RunStateCodec.decode(run.state, "run");
    expect(state.error).toMatch(/^checkout failed: .*missing-\*\*\*/);
    // The repository's row holds the location as the operator gave it: check the run and events only.
    expect(await leaks(world, run, false)).toEqual([]);
  }, 60_000);
});
