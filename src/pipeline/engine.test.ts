import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../test-support/wait-for.js";
import { RunStateCodec } from "./codecs.js";
import { PipelineWorld } from "./test-fixtures.js";

describe("pipeline engine (real store, real git checkout, real processes)", () => {
  let world: PipelineWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it("runs a DAG in a checkout of the commit, passes outputs, and records logs with timestamps", async () => {
    world = await new PipelineWorld().start(
      `ci:
  on: { manual: {} }
  jobs:
    build:
      outputs: [version]
      steps:
        - run: cat README.md && echo "version=1.2.3" >> "$SLIPWAY_OUTPUT"
    test:
      needs: [build]
      steps:
        - run: echo "testing \${{ needs.build.outputs.version }} on $SLIPWAY_BRANCH"
`,
    );
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("succeeded");
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([
      ["build", "succeeded"],
      ["test", "succeeded"],
    ]);
    expect(run.jobs[0]?.outputs).toEqual({ version: "1.2.3" });
    const logs = await world.engine.logs(run.id);
    expect(logs.map((l) => l.text)).toContain("demo");
    expect(logs.map((l) => l.text)).toContain("testing 1.2.3 on main");
    expect(logs.every((l) => !Number.isNaN(Date.parse(l.at)))).toBe(true);
  }, 60_000);

  it("stops at a failing step, skips what needs it, and keeps the last lines", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    test:
      steps:
        - run: echo one; echo two; exit 3
        - run: echo never
        - run: echo cleanup
          if: always()
    deploy:
      needs: [test]
      steps: [ { run: echo deploying } ]
`);
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("failed");
    const [test, deploy] = run.jobs;
    expect(test?.status).toBe("failed");
    expect(test?.reason).toContain("exit 3");
    expect(test?.tail).toEqual(expect.arrayContaining(["one", "two"]));
    expect(test?.steps.map((s) => s.status)).toEqual(["failed", "skipped", "succeeded"]);
    expect(deploy?.status).toBe("skipped");
  }, 60_000);

  it("masks secrets in every form and fails a run whose secret is not defined", async () => {
    const secret = "hunter2-very-secret";
    world = await new PipelineWorld().start(
      `ci:
  on: { manual: {} }
  secrets: [TOKEN]
  jobs:
    leak:
      steps:
        - run: echo "$TOKEN"; printf %s "$TOKEN" | base64; node -e 'console.log(encodeURIComponent(process.env.TOKEN + "/x"))'
`,
      {},
      { secret: (name) => (name === "TOKEN" ? secret : undefined) },
    );
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("succeeded");
    const text = (await world.engine.logs(run.id)).map((l) => l.text).join("\n");
    expect(text).not.toContain(secret);
    expect(text).not.toContain(Buffer.from(secret).toString("base64"));
    expect(text).toContain("***");
  }, 60_000);

  it("a step that never ends is killed at its timeout; a command not found says so", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    slow:
      steps:
        - run: sleep 600
          timeout: 1s
    missing:
      steps:
        - run: no-such-command-here
`);
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("failed");
    const slow = run.jobs.find((j) => j.name === "slow");
    expect(slow?.steps[0]?.summary).toMatch(/timed out after 1s/);
    const missing = run.jobs.find((j) => j.name === "missing");
    expect(missing?.steps[0]?.summary).toBe("command not found (exit 127)");
  }, 60_000);

  it("caps a step's log and goes on", async () => {
    world = await new PipelineWorld().start(
      `ci:
  on: { manual: {} }
  jobs:
    noisy:
      steps:
        - run: yes "a line of output that repeats" | head -n 200000
        - run: echo after
`,
      {},
      { logMaxBytes: 64 * 1024 },
    );
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("succeeded");
    const step = run.jobs[0]?.steps[0];
    expect(step?.truncated).toBe(true);
    expect(step?.logBytes).toBeLessThanOrEqual(64 * 1024);
    const lines = await world.engine.logs(run.id);
    expect(lines.some((l) => l.text.startsWith("output truncated"))).toBe(true);
    expect(lines.map((l) => l.text)).toContain("after");
  }, 60_000);

  it("a step printing 100 MB keeps 10 MiB of it and the run goes on", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    noisy:
      steps:
        - run: head -c 100000000 /dev/zero | tr '\\0' 'a' | fold -w 100
        - run: echo after
`);
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("succeeded");
    const [noisy, after] = run.jobs[0]?.steps ?? [];
    expect(noisy?.truncated).toBe(true);
    expect(noisy?.logBytes).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(noisy?.logBytes).toBeGreaterThan(10 * 1024 * 1024 - 200);
    expect(after?.status).toBe("succeeded");
  }, 120_000);

  it("cancels a running run and kills its process group", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    slow:
      steps:
        - run: sleep 600 & sleep 600
`);
    const started = await world.run("ci");
    // Cancelled once the step's process group runs (its pgid is stored), so there is a group to kill.
    const { store } = world;
    await waitFor(
      async () => {
        const run = await store.pipelines.getRun(started.id);
        return RunStateCodec.decode(run.state, `run ${run.id}`).jobs[0]?.steps[0]?.pgid;
      },
      { what: "the slow step's process group to start" },
    );
    const cancelled = await world.engine.cancel(started.id, "local:bob");
    expect(cancelled.status).toBe("cancelled");
    const job = (await world.finish(started)).jobs[0];
    expect(job?.status).toBe("cancelled");
  }, 60_000);

  it("waits for an approval from someone else, then goes on", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    release:
      steps:
        - approval: { count: 1 }
        - run: echo released
`);
    const run = await world.run("ci", {}, "local:alice");
    const { store } = world;
    const waiting = await waitFor(
      async () => {
        const r = await store.pipelines.getRun(run.id);
        return r.status === "waiting" && r;
      },
      { what: `run ${run.id} to wait for its approval` },
    );
    expect(waiting.status).toBe("waiting");
    await expect(world.engine.approve(run.id, "local:alice")).rejects.toThrow(/may not approve/);
    await world.engine.approve(run.id, "token:bob");
    const done = await world.finish(run);
    expect(done.status).toBe("succeeded");
    expect(done.jobs[0]?.steps[0]?.summary).toBe("approved by bob");
  }, 60_000);

  it("reruns only the failed jobs, keeping what passed", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    build:
      outputs: [n]
      artifacts: [out/]
      steps: [ { run: 'echo "n=$SLIPWAY_RUN_NUMBER" >> "$SLIPWAY_OUTPUT"; mkdir -p out; echo "built by $SLIPWAY_RUN_NUMBER" > out/x' } ]
    flaky:
      needs: [build]
      steps: [ { run: 'cat out/x && test -f ok' } ]
`);
    const first = await world.finish(await world.run("ci"));
    expect(first.status).toBe("failed");
    world.commit({ ok: "" }, "fix");
    const again = await world.finish(await world.engine.rerun(first.id, "local:alice", { failedOnly: true }));
    // The rerun checks out the same commit, so it still fails; but build was kept, not run again.
    expect(again.jobs.find((j) => j.name === "build")?.carriedFrom).toBe(first.id);
    expect(again.jobs.find((j) => j.name === "build")?.outputs).toEqual({ n: "1" });
    // The kept job's artifact is back in the new run's workspace for the job that needs it.
    const lines = await world.engine.logs(again.id, { job: "flaky" });
    expect(lines.map((l) => l.text)).toContain("built by 1");
  }, 60_000);

  it("runs its scheduler on a loop whose stats are published", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    only: { steps: [ { run: "true" } ] }
`);
    const run = await world.finish(await world.run("ci"));
    expect(run.status).toBe("succeeded");
    const stats = world.engine.loops().map((loop) => loop.stats());
    expect(stats).toEqual([expect.objectContaining({ name: "pipelines", errors: 0 })]);
    expect(stats[0]?.ticks).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
