/**
 * The example's seed pipeline end to end: lint → test with a coverage gate and JUnit report → security
 * scan → build → deploy to staging → smoke test → approval → deploy to production, on a real control
 * plane with a real node agent, from a real git repository holding examples/shop.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createAgent, type Agent } from "../agent/index.js";
import { computePlan, desiredObjects, parseConfig, toChangeInputs } from "../config/index.js";
import { createSilentLogger } from "../log/index.js";
import { generateDataKey } from "../secrets/index.js";
import { startServer, type RunningServer } from "../server/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { RunStateCodec } from "./codecs.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/shop/", import.meta.url));

describe("the example's release pipeline", () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-example-pipeline-"));
  const repo = join(root, "shop");
  const dataDir = join(root, "data");
  let agent: Agent | undefined;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.stop();
    await agent?.stop({ stopInstances: true });
    rmSync(root, { recursive: true, force: true });
  });

  it("goes from a commit to production, waiting for someone else's approval", async () => {
    cpSync(EXAMPLE, repo, { recursive: true });
    const [production, staging] = [await findFreePort(), await findFreePort()];
    const file = join(repo, "slipway.yaml");
    const source = readFileSync(file, "utf8")
      .replace(":8080", `:${production}`)
      .replace(":8081", `:${staging}`)
      // The example freezes production over the weekend; this test must pass on any day.
      .replace(/\n\s*freeze: \[.*\]/, "")
      // Shorter canary steps: the test is about the pipeline, not the canary.
      .replace("{ weight: 10, pause: 10s }", "{ weight: 50, pause: 1s }")
      .replace(/\n\s*- \{ weight: 50, pause: 10s \}/, "");
    writeFileSync(file, source);
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=Alice", "-c", "user.email=alice@example.com", ...args], {
        cwd: repo,
      });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "shop");

    agent = await createAgent({ dataDir, logger: createSilentLogger(), drainMs: 500 });
    await agent.start();
    server = await startServer({
      settings: {
        listen: { host: "127.0.0.1", port: 0 },
        dataDir,
        databaseUrl: undefined,
        logLevel: "silent",
      },
      logger: createSilentLogger(),
      tickMs: 100,
    });
    const { store } = server;
    const { config } = parseConfig(source, file);
    const plan = computePlan([], desiredObjects(config));
    await store.config.apply({
      baseRevision: 0,
      author: "test",
      sourceFile: file,
      sourceHash: "0".repeat(64),
      source,
      changes: toChangeInputs(plan),
      summary: plan.summary,
    });
    const repository = await store.pipelines.addRepository({
      name: "shop",
      location: repo,
      kind: "path",
      sealedWebhookSecret: generateDataKey().seal("0123456789abcdef0123", "test"),
      createdBy: "test",
    });

    const run = await server.pipelines.startRun({
      pipeline: "release",
      trigger: {
        kind: "manual",
        actor: "local:alice",
        ref: "refs/heads/main",
        sha: null,
        branch: "main",
        tag: null,
        repository: repository.id,
        inputs: {},
      },
    });
    // Wait for the approval; alice started the run, so she may not approve it.
    // A run that ends instead stops the wait at once, and fails naming its jobs.
    const waiting = await waitFor(
      async () => {
        const r = await store.pipelines.getRun(run.id);
        return (
          (r.status === "waiting" ||
            ["failed", "succeeded", "cancelled", "interrupted"].includes(r.status)) &&
          r
        );
      },
      { what: `run ${run.id} to wait for its approval`, timeoutMs: 120_000, intervalMs: 200 },
    );
    if (waiting.status !== "waiting") {
      throw new Error(
        `run ended ${waiting.status} before the approval: ${JSON.stringify(RunStateCodec.decode(waiting.state, "run").jobs.map((j) => [j.name, j.status, j.reason]))}`,
      );
    }
    await expect(server.pipelines.approve(run.id, "local:alice")).rejects.toThrow(/may not approve/);
    await server.pipelines.approve(run.id, "token:bob");
    const done = await server.pipelines.waitForRun(run.id, AbortSignal.timeout(120_000));
    const jobs = RunStateCodec.decode(done.state, "run").jobs;
    expect(jobs.map((j) => [j.name, j.status])).toEqual([
      ["lint", "succeeded"],
      ["scan", "succeeded"],
      ["test", "succeeded"],
      ["build", "succeeded"],
      ["staging", "succeeded"],
      ["production", "succeeded"],
    ]);
    expect(done.status).toBe("succeeded");
    const test = jobs.find((j) => j.name === "test");
    expect(test?.steps[1]?.summary).toMatch(/line coverage 100(\.0)?% .*; 3 tests, 0 failed/);
    const staged = jobs.find((j) => j.name === "staging");
    expect(staged?.steps[1]?.summary).toBe("exit 0");
    const logs = await server.pipelines.logs(run.id, { job: "staging" });
    expect(logs.map((l) => l.text).join("\n")).toMatch(
      /smoke test passed: http:\/\/127\.0\.0\.1:\d+ is web release-1/,
    );
    const rollouts = await store.delivery.listRollouts({ service: "web" });
    expect(rollouts.map((r) => [r.env, r.release, r.status]).sort()).toEqual([
      ["production", "release-1", "succeeded"],
      ["staging", "release-1", "succeeded"],
    ]);
  }, 180_000);
});
