/**
 * Deploy steps against a real control plane and node agent: a cancelled run aborts the rollout its
 * deploy step started, cleanly; a run whose secret is not defined fails before any step.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deployments, DeliveryWorld } from "../rollout/test-fixtures.js";
import { generateDataKey } from "../secrets/index.js";
import type { PipelineRun } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { RunStateCodec } from "./codecs.js";

const PIPELINE = `pipelines:
  ship:
    on: { manual: {} }
    jobs:
      deploy:
        steps:
          - { artifact: { name: app, paths: [app/] } }
          - { deploy: web, env: production, artifact: app, version: "v\${{ run.number }}" }
  leaky:
    on: { manual: {} }
    secrets: [NOT_DEFINED_ANYWHERE]
    jobs:
      one: { steps: [{ run: echo never }] }
`;

describe("deploy steps and secrets (real control plane and agent)", () => {
  let world: DeliveryWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  async function withRepo(w: DeliveryWorld): Promise<string> {
    const repo = join(w.root, "repo");
    mkdirSync(join(repo, "app"), { recursive: true });
    const artifact = w.artifact("src");
    execFileSync("cp", ["-r", `${artifact}/.`, join(repo, "app")]);
    writeFileSync(join(repo, "README.md"), "repo\n");
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=A", "-c", "user.email=a@example.com", ...args], { cwd: repo });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "app");
    const repository = await w.server.store.pipelines.addRepository({
      name: "app",
      location: repo,
      kind: "path",
      sealedWebhookSecret: generateDataKey().seal("0123456789abcdef0123", "test"),
      createdBy: "test",
    });
    return repository.id;
  }

  function start(w: DeliveryWorld, pipeline: string, repository: string): Promise<PipelineRun> {
    return w.server.pipelines.startRun({
      pipeline,
      trigger: {
        kind: "manual",
        actor: "local:alice",
        ref: "refs/heads/main",
        sha: null,
        branch: "main",
        tag: null,
        repository,
        inputs: {},
      },
    });
  }

  it("cancelling a run during its deploy step aborts the rollout: traffic stays on the stable release", async () => {
    world = await new DeliveryWorld().start({
      rollout: "{ strategy: canary, steps: [{ weight: 50, pause: until-promote }] }",
      extra: PIPELINE,
    });
    const repository = await withRepo(world);
    // v1 through the pipeline (a first release: straight to 100 %).
    const first = await world.server.pipelines.waitForRun((await start(world, "ship", repository)).id);
    expect(first.status).toBe("succeeded");
    expect((await world.hit()).body).toBe("v1");

    // v2 holds at 50 % until someone promotes: cancel the run meanwhile.
    const second = await start(world, "ship", repository);
    const { delivery } = world.server.store;
    await waitFor(
      async () => {
        const rollouts = await delivery.listRollouts({ service: "web", active: true });
        return rollouts[0]?.release === "v2" && (rollouts[0].state as { phase?: string }).phase === "step";
      },
      { what: "the v2 rollout to hold at its canary step", timeoutMs: 60_000, intervalMs: 100 },
    );
    const cancelled = await world.server.pipelines.cancel(second.id, "local:bob");
    expect(cancelled.status).toBe("cancelled");
    const step = RunStateCodec.decode(cancelled.state, "run").jobs[0]?.steps[1];
    expect(step?.status).toBe("cancelled");
    const rollout = (await world.server.store.delivery.listRollouts({ service: "web", limit: 1 }))[0];
    expect(rollout?.release).toBe("v2");
    expect(rollout?.status).toBe("aborted");
    expect(rollout?.reason).toContain("aborted by pipeline:ship#2");
    // The abort is recorded first; the controller's next pass puts the route table back (through the
    // agent to the edge) and only then reports the slot without v2's weight. Then every request goes to v1.
    const live = world;
    await waitFor(
      async () => {
        const slot = (await deployments(live)).slots.find((s) => s.service === "web");
        return slot?.releases.every((r) => r.version !== "v2" || r.weight === 0) === true ? true : undefined;
      },
      { what: "the route table back on v1 after the abort", timeoutMs: 10_000, intervalMs: 50 },
    );
    for (let i = 0; i < 20; i += 1) expect((await world.hit()).body).toBe("v1");
  }, 90_000);

  it("a secret that is not defined fails the run before any step, naming it", async () => {
    world = await new DeliveryWorld().start({ rollout: "{ strategy: rolling }", extra: PIPELINE });
    const repository = await withRepo(world);
    const run = await world.server.pipelines.waitForRun((await start(world, "leaky", repository)).id);
    expect(run.status).toBe("failed");
    const state = RunStateCodec.decode(run.state, "run");
    expect(state.error).toContain("secret NOT_DEFINED_ANYWHERE is not defined");
    expect(state.jobs[0]?.status).toBe("skipped");
    expect(state.jobs[0]?.steps[0]?.status).toBe("pending");
  }, 60_000);
});
