/**
 * A control-plane `kill -9` during a pipeline run: the step's process group outlives the control
 * plane (it is in its own group), and the next control plane must kill it, mark the step and the run
 * interrupted, keep queued runs, and let the run be resumed. The control plane is a real child process
 * of the built CLI; the test shares its SQLite file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { ensureBuilt } from "../rollout/process-fixtures.js";
import { isGroupAlive } from "../runtime/index.js";
import type { PipelineRun } from "../store/index.js";
import { CLI } from "../test-support/cli.js";
import { waitFor } from "../test-support/wait-for.js";
import { PipelineSpecCodec, RunStateCodec, storedForm } from "./codecs.js";
import { createPipelineEngine } from "./engine.js";
import { initialState } from "./run-state.js";
import { PipelineWorld } from "./test-fixtures.js";

function startServer(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("control plane on")) resolve(child);
    });
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => {
      reject(new Error(`server exited ${String(code)}: ${out}`));
    });
  });
}

/** Each probe reads the shared SQLite file: every 100 ms is enough, and 30 s covers a control-plane start. */
const POLL = { timeoutMs: 30_000, intervalMs: 100 };

describe("pipeline runs across a control-plane kill -9", () => {
  let world: PipelineWorld | undefined;
  let server: ChildProcess | undefined;
  beforeAll(() => {
    ensureBuilt();
  });
  afterEach(async () => {
    server?.kill("SIGKILL");
    await world?.stop();
    world = undefined;
  });

  it("interrupts the step in flight, kills its process group, keeps queued runs, and resumes", async () => {
    const gate = join(process.cwd(), `.tmp-durability-${process.pid}`);
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  concurrency: { group: ci }
  jobs:
    first:
      steps: [ { run: echo first done } ]
    slow:
      needs: [first]
      steps:
        - run: test -f ${gate} && echo released || sleep 600
`);
    // The test's own engine is not needed: the child's engine runs the queued run.
    await world.engine.stop();
    const store = world.store;
    const stored = (await store.config.listObjects()).find((o) => o.kind === "pipeline");
    const spec = PipelineSpecCodec.decode(stored?.spec ?? null, "pipeline ci");
    const queue = (): Promise<PipelineRun> =>
      store.pipelines.createRun({
        pipeline: "ci",
        trigger: {
          kind: "manual",
          actor: "local:alice",
          ref: "refs/heads/main",
          sha: null,
          branch: "main",
          tag: null,
          repository: world?.repoId ?? null,
          inputs: {},
        },
        spec: storedForm(PipelineSpecCodec, spec),
        configRevision: 1,
        concurrencyGroup: "ci",
        state: storedForm(RunStateCodec, initialState(spec)),
      });

    server = await startServer(world.dataDir);
    const run = await queue();
    const pgid = await waitFor(
      async () => {
        const state = RunStateCodec.decode((await store.pipelines.getRun(run.id)).state, "run");
        return state.jobs.find((j) => j.name === "slow")?.steps[0]?.pgid;
      },
      { what: "the slow step to run", ...POLL },
    );
    expect(await isGroupAlive(pgid)).toBe(true);

    const killed = server;
    killed.kill("SIGKILL");
    await waitFor(() => killed.exitCode !== null || killed.signalCode !== null, {
      what: "the killed control plane to exit",
      ...POLL,
    });
    // The step outlived its control plane (own process group), and a run queued now must survive too.
    expect(await isGroupAlive(pgid)).toBe(true);
    const queued = await queue();

    server = await startServer(world.dataDir);
    const interrupted = await waitFor(
      async () => {
        const r = await store.pipelines.getRun(run.id);
        return r.status === "interrupted" && r;
      },
      { what: "the run to be interrupted", ...POLL },
    );
    expect(await isGroupAlive(pgid)).toBe(false);
    const jobs = RunStateCodec.decode(interrupted.state, "run").jobs;
    expect(jobs.find((j) => j.name === "first")?.status).toBe("succeeded");
    expect(jobs.find((j) => j.name === "slow")?.status).toBe("interrupted");
    expect(jobs.find((j) => j.name === "slow")?.steps[0]?.status).toBe("interrupted");

    // The queued run was kept; with the group free it runs (and waits on the gate like the first did).
    await waitFor(async () => (await store.pipelines.getRun(queued.id)).status === "running", {
      what: "the queued run to start",
      ...POLL,
    });
    server.kill("SIGTERM");
    await new Promise((resolve) => server?.once("exit", resolve));
    server = undefined;

    // Resume the interrupted run with an engine of our own: only the unfinished job runs again.
    writeFileSync(gate, "");
    try {
      const engine = createPipelineEngine({ store, logger: createSilentLogger(), dataDir: world.dataDir });
      await engine.start();
      try {
        await engine.resume(run.id, "local:alice");
        const done = await engine.waitForRun(run.id, AbortSignal.timeout(30_000));
        expect(done.status).toBe("succeeded");
        const after = RunStateCodec.decode(done.state, "run").jobs;
        expect(after.find((j) => j.name === "first")?.finishedAt).toBe(
          jobs.find((j) => j.name === "first")?.finishedAt,
        );
        const lines = await engine.logs(run.id, { job: "slow" });
        expect(lines.map((l) => l.text)).toContain("released");
      } finally {
        await engine.stop();
      }
    } finally {
      if (existsSync(gate)) writeFileSync(gate, "");
      await import("node:fs/promises").then((fs) => fs.rm(gate, { force: true }));
    }
  }, 120_000);
});
