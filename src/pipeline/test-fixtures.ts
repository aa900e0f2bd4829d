/**
 * A pipeline world for tests: a real SQLite store in a temp dir, a real git repository with a small
 * project, a config applied with pipelines, and the engine. (Excluded from the build.)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { computePlan, desiredObjects, parseConfig, toChangeInputs } from "../config/index.js";
import { createSilentLogger } from "../log/index.js";
import { DEFAULT_DATA_KEY_PATH, openDataKey } from "../secrets/index.js";
import { openStore, type PipelineRun, type Store } from "../store/index.js";
import { createPipelineEngine, type EngineOptions } from "./engine.js";
import type { PipelineEngine } from "./engine-types.js";
import { RunStateCodec } from "./codecs.js";
import type { RunState } from "./types.js";

export interface PipelineWorldOptions {
  /** The `services:` block of the applied config, as YAML (default none). */
  services?: string;
}

export class PipelineWorld {
  readonly #services: string;
  readonly root = mkdtempSync(join(tmpdir(), "slipway-pipeline-"));
  readonly dataDir = join(this.root, "data");
  readonly repo = join(this.root, "repo");
  store!: Store;
  engine!: PipelineEngine;
  repoId = "";

  constructor(options: PipelineWorldOptions = {}) {
    this.#services = options.services ?? "{}";
  }

  async start(
    pipelinesYaml: string,
    files: Record<string, string> = {},
    options: Partial<EngineOptions> = {},
  ): Promise<this> {
    mkdirSync(this.repo, { recursive: true });
    this.git("init", "-q", "-b", "main");
    this.commit({ "README.md": "demo\n", ...files }, "initial");
    this.store = await openStore({ dataDir: this.dataDir });
    await this.apply(pipelinesYaml);
    this.repoId = await this.addRepository("demo", this.repo);
    this.engine = createPipelineEngine({
      store: this.store,
      logger: createSilentLogger(),
      dataDir: this.dataDir,
      ...options,
    });
    await this.engine.start();
    return this;
  }

  async apply(pipelinesYaml: string): Promise<void> {
    const source = [
      "project: demo",
      "environments:",
      "  staging: { router: { listen: 127.0.0.1:18081 } }",
      `services: ${this.#services}`,
      "pipelines:",
      pipelinesYaml.replace(/^/gm, "  "),
      "",
    ].join("\n");
    const { config } = parseConfig(source, "slipway.yaml");
    const plan = computePlan(await this.store.config.listObjects(), desiredObjects(config));
    await this.store.config.apply({
      baseRevision: await this.store.config.currentRevision(),
      author: "test",
      sourceFile: "slipway.yaml",
      sourceHash: "0".repeat(64),
      source,
      changes: toChangeInputs(plan),
      summary: plan.summary,
    });
  }

  /** Watches one more repository (for runs that name it); returns its id. */
  async addRepository(name: string, location: string): Promise<string> {
    // Sealed under the data directory's own key, as the server does: a control plane started later on
    // this directory (durability.test.ts) refuses a store holding secrets under a key it cannot find.
    const { key } = await openDataKey(join(this.dataDir, ...DEFAULT_DATA_KEY_PATH), { create: true });
    const repo = await this.store.pipelines.addRepository({
      name,
      location,
      kind: "path",
      sealedWebhookSecret: key.seal("0123456789abcdef0123", "test"),
      createdBy: "test",
    });
    return repo.id;
  }

  git(...args: string[]): string {
    return execFileSync("git", ["-c", "user.name=Alice", "-c", "user.email=alice@example.com", ...args], {
      cwd: this.repo,
      encoding: "utf8",
    }).trim();
  }

  commit(files: Record<string, string>, message: string): string {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(this.repo, path)), { recursive: true });
      writeFileSync(join(this.repo, path), text, { mode: path.endsWith(".sh") ? 0o755 : 0o644 });
    }
    this.git("add", "-A");
    this.git("commit", "-q", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  run(
    pipeline: string,
    inputs: Record<string, string | number | boolean> = {},
    actor = "local:alice",
  ): Promise<PipelineRun> {
    return this.engine.startRun({
      pipeline,
      trigger: {
        kind: "manual",
        actor,
        ref: "refs/heads/main",
        sha: null,
        branch: "main",
        tag: null,
        repository: this.repoId,
        inputs,
      },
    });
  }

  async finish(run: PipelineRun): Promise<PipelineRun & { jobs: RunState["jobs"] }> {
    const done = await this.engine.waitForRun(run.id, AbortSignal.timeout(60_000));
    return { ...done, jobs: RunStateCodec.decode(done.state, `run ${done.id}`).jobs };
  }

  async stop(): Promise<void> {
    await this.engine.stop().catch(() => undefined);
    await this.store.close().catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}
