import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cron } from "croner";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { generateDataKey } from "../secrets/index.js";
import {
  openStore,
  type JsonValue,
  type ObjectChangeInput,
  type PipelineRun,
  type Store,
} from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import type { PipelineEngine, StartRunInput } from "./engine-types.js";
import { CHAINED_SUFFIX, HOOK_MARKER, installHooks, removeHooks, SENDER_FILE } from "./hook-script.js";
import { createTriggers, ZERO_ID, type Triggers } from "./triggers.js";

const execAsync = promisify(execFile);
const KEY = generateDataKey();

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Alice", "-c", "user.email=alice@example.com", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  }).trim();
}

function commit(repo: string, files: Record<string, string>, message: string): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo, path, ".."), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "--no-verify", "-m", message);
  return git(repo, "rev-parse", "HEAD");
}

/** An engine that only records what it was asked to start. */
function recordingEngine(): { engine: PipelineEngine; started: StartRunInput[] } {
  const started: StartRunInput[] = [];
  const engine = {
    startRun: (input: StartRunInput) => {
      started.push(input);
      const run = {
        id: started.length,
        pipeline: input.pipeline,
        number: started.length,
        trigger: input.trigger,
        status: "queued",
      } as unknown as PipelineRun;
      return Promise.resolve(run);
    },
  } as unknown as PipelineEngine;
  return { engine, started };
}

async function applyPipelines(store: Store, pipelines: Record<string, JsonValue>): Promise<void> {
  const current = (await store.config.listObjects()).filter((o) => o.kind === "pipeline");
  const changes: ObjectChangeInput[] = [];
  for (const [name, spec] of Object.entries(pipelines)) {
    const action = current.some((o) => o.name === name) ? "update" : "create";
    changes.push({ action, kind: "pipeline", name, spec });
  }
  for (const o of current) {
    if (!(o.name in pipelines)) changes.push({ action: "delete", kind: "pipeline", name: o.name });
  }
  await store.config.apply({
    baseRevision: await store.config.currentRevision(),
    author: "test",
    sourceFile: "slipway.yaml",
    sourceHash: "0".repeat(64),
    source: "# test",
    changes,
    summary: { add: 0, change: changes.length, delete: 0 },
  });
}

const job = { steps: [{ run: "true" }] };

describe("triggers with a real store and git", () => {
  let root: string;
  let store: Store;
  let triggers: Triggers | undefined;
  let repo: string;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-triggers-"));
    repo = join(root, "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    commit(repo, { "README.md": "demo\n" }, "initial");
    store = await openStore({ dataDir: join(root, "data") });
  });
  afterEach(async () => {
    await triggers?.stop();
    triggers = undefined;
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("rebuilds schedules when config is applied, and a fire starts a run on the default branch", async () => {
    const { engine, started } = recordingEngine();
    await store.pipelines.addRepository({
      name: "demo",
      location: repo,
      kind: "path",
      sealedWebhookSecret: KEY.seal("0123456789abcdef0123", "test"),
      createdBy: "test",
    });
    await applyPipelines(store, {
      nightly: { on: { schedule: [{ cron: "0 3 * * 1-5", timezone: "Europe/Berlin" }] }, jobs: { a: job } },
    });
    triggers = createTriggers({
      store,
      engine,
      logger: createSilentLogger(),
      pollIntervalMs: 0,
      dataKey: KEY,
    });
    await triggers.start();
    const first = triggers.schedules();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ pipeline: "nightly", cron: "0 3 * * 1-5", timezone: "Europe/Berlin" });
    const expected = new Cron("0 3 * * 1-5", { timezone: "Europe/Berlin", paused: true });
    expect(first[0]?.nextRun).toBe(expected.nextRun()?.toISOString());
    expected.stop();

    // The config validation allows only 5 fields; the store does not care, and croner reads a leading
    // seconds field, which makes a real fire quick.
    await applyPipelines(store, {
      nightly: { on: { schedule: [{ cron: "* * * * * *", timezone: "UTC" }] }, jobs: { a: job } },
      manual: { on: { manual: {} }, jobs: { a: job } },
    });
    await waitFor(() => started.length > 0, { what: "the every-second schedule to fire", intervalMs: 50 });
    expect(triggers.schedules().map((s) => s.cron)).toEqual(["* * * * * *"]);
    const fire = started[0];
    expect(fire?.pipeline).toBe("nightly");
    expect(fire?.trigger).toMatchObject({
      kind: "schedule",
      actor: "system:schedule",
      ref: "refs/heads/main",
      branch: "main",
      sha: git(repo, "rev-parse", "HEAD"),
    });
    expect(Date.parse(fire?.trigger.scheduledAt ?? "") % 1000).toBe(0);

    await applyPipelines(store, { manual: { on: { manual: {} }, jobs: { a: job } } });
    const running = triggers;
    await waitFor(() => running.schedules().length === 0, {
      what: "the schedules to be rebuilt without nightly",
    });
    expect(triggers.schedules()).toEqual([]);
  });

  it("starts matching pipelines for a local push with changed paths from git; deletions start nothing", async () => {
    const { engine, started } = recordingEngine();
    const repository = await store.pipelines.addRepository({
      name: "demo",
      location: repo,
      kind: "path",
      sealedWebhookSecret: KEY.seal("0123456789abcdef0123", "test"),
      createdBy: "test",
    });
    await applyPipelines(store, {
      docs: { on: { push: { branches: ["main"], paths: ["docs/**"] } }, jobs: { a: job } },
      code: { on: { push: { branches: ["main"], paths: ["src/**"] } }, jobs: { a: job } },
      tags: { on: { push: { tags: ["v*"] } }, jobs: { a: job } },
    });
    triggers = createTriggers({
      store,
      engine,
      logger: createSilentLogger(),
      pollIntervalMs: 0,
      dataKey: KEY,
    });
    const before = git(repo, "rev-parse", "HEAD");
    const after = commit(repo, { "src/app.js": "x\n" }, "code");
    const push = await triggers.readLocalPush(repository, { before, after, ref: "refs/heads/main" }, "alice");
    expect(push).toMatchObject({ changedPaths: ["src/app.js"], changedPathsComplete: true, branch: "main" });
    const outcome = await triggers.onPush(push, repository);
    expect(outcome.runs.map((r) => r.pipeline)).toEqual(["code"]);
    expect(started[0]?.trigger).toMatchObject({
      kind: "push",
      actor: "local:alice",
      ref: "refs/heads/main",
      sha: after,
      branch: "main",
      tag: null,
      repository: repository.id,
      deliveryId: `local:${repository.id}:${after}:refs/heads/main`,
      changedPaths: ["src/app.js"],
    });
    expect(outcome.skipped.map((s) => s.pipeline).sort()).toEqual(["docs", "tags"]);

    // A new branch: only its tip's files, so the list counts as incomplete and path filters match.
    git(repo, "checkout", "-q", "-b", "feature");
    const tip = commit(repo, { "docs/a.md": "a\n" }, "docs");
    const created = await triggers.readLocalPush(
      repository,
      { before: ZERO_ID, after: tip, ref: "refs/heads/feature" },
      "alice",
    );
    expect(created).toMatchObject({
      changedPaths: ["docs/a.md"],
      changedPathsComplete: false,
      created: true,
    });
    const none = await triggers.onPush(created, repository);
    expect(none.runs).toEqual([]);
    expect(none.reason).toBe("no pipeline matches branch feature");

    git(repo, "tag", "-a", "v1.0.0", "-m", "release");
    const tagObject = git(repo, "rev-parse", "v1.0.0");
    const tagPush = await triggers.readLocalPush(
      repository,
      { before: ZERO_ID, after: tagObject, ref: "refs/tags/v1.0.0" },
      "alice",
    );
    expect(tagPush.sha).toBe(tip);
    expect((await triggers.onPush(tagPush, repository)).runs.map((r) => r.pipeline)).toEqual(["tags"]);

    const deleted = await triggers.readLocalPush(
      repository,
      { before: tip, after: ZERO_ID, ref: "refs/heads/feature" },
      "alice",
    );
    const gone = await triggers.onPush(deleted, repository);
    expect(gone.runs).toEqual([]);
    expect(gone.reason).toContain("deleted");
    expect(started).toHaveLength(2);
  });

  it("polls a URL repository: the first poll records heads, later ones start runs for moved refs once", async () => {
    const { engine, started } = recordingEngine();
    const bare = join(root, "remote.git");
    git(root, "init", "-q", "--bare", "-b", "main", bare);
    git(repo, "push", "-q", bare, "main");
    const repository = await store.pipelines.addRepository({
      name: "remote",
      location: `file://${bare}`,
      kind: "url",
      sealedWebhookSecret: KEY.seal("0123456789abcdef0123", "test"),
      createdBy: "test",
    });
    await applyPipelines(store, {
      ci: { on: { push: { paths: ["src/**"] } }, jobs: { a: job } },
    });
    triggers = createTriggers({
      store,
      engine,
      logger: createSilentLogger(),
      pollIntervalMs: 0,
      dataKey: KEY,
    });
    await triggers.pollOnce();
    expect(started).toHaveLength(0);
    const first = await store.pipelines.findRepository(repository.id);
    expect(first?.heads).toEqual({ "refs/heads/main": git(repo, "rev-parse", "HEAD") });

    const old = git(repo, "rev-parse", "HEAD");
    const next = commit(repo, { "docs/readme.md": "x\n" }, "docs only");
    git(repo, "tag", "-a", "v2", "-m", "v2");
    git(repo, "push", "-q", bare, "main", "v2");
    await triggers.pollOnce();
    // Changed paths are unknown to the poller, so the path filter does not hold the runs back.
    expect(started.map((s) => [s.trigger.ref, s.trigger.sha, s.trigger.actor])).toEqual([
      ["refs/heads/main", next, "system:poll"],
      ["refs/tags/v2", next, "system:poll"],
    ]);
    expect(started[0]?.trigger.deliveryId).toBe(`poll:${repository.id}:${next}:refs/heads/main`);
    expect(old).not.toBe(next);
    await triggers.pollOnce();
    expect(started).toHaveLength(2);
  });
});

describe("local git hooks", () => {
  let root: string;
  let server: Server | undefined;
  const received: { headers: Record<string, unknown>; body: unknown }[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "slipway-hooks-"));
    received.length = 0;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => {
      if (server === undefined) resolve();
      else
        server.close(() => {
          resolve();
        });
    });
    server = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  async function listen(): Promise<string> {
    const http = createServer((req, res) => {
      let text = "";
      req.on("data", (d: Buffer) => (text += d.toString()));
      req.on("end", () => {
        received.push({ headers: req.headers, body: JSON.parse(text) as unknown });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ runs: [{ id: 7, pipeline: "release", number: 12 }] }));
      });
    });
    server = http;
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  }

  it("chains an existing hook, reports a commit, reinstalls idempotently and restores on removal", async () => {
    const url = await listen();
    const repo = join(root, "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    const hooksDir = join(repo, ".git", "hooks");
    mkdirSync(hooksDir, { recursive: true });
    const original = `#!/bin/sh\necho chained >> "${join(root, "chained.log")}"\n`;
    writeFileSync(join(hooksDir, "post-commit"), original, { mode: 0o755 });

    const target = {
      location: repo,
      repositoryId: "repo_test",
      token: "slw_hook_t0ken-t0ken-t0ken",
      serverUrl: url,
    };
    const first = await installHooks(target);
    expect(first.bare).toBe(false);
    expect(first.main).toBe(join(hooksDir, "post-commit"));
    expect(first.chained).toEqual([join(hooksDir, `post-commit${CHAINED_SUFFIX}`)]);
    await installHooks(target);
    expect(readFileSync(join(hooksDir, `post-commit${CHAINED_SUFFIX}`), "utf8")).toBe(original);
    expect(readFileSync(join(hooksDir, "post-commit"), "utf8")).toContain(HOOK_MARKER);
    expect(statSync(join(hooksDir, SENDER_FILE)).mode & 0o777).toBe(0o700);

    writeFileSync(join(repo, "a.txt"), "a\n");
    git(repo, "add", "a.txt");
    // Asynchronously: the receiving server lives in this process. Git shows hook output on stderr.
    const out = await execAsync(
      "git",
      ["-c", "user.name=Alice", "-c", "user.email=a@example.com", "commit", "-q", "-m", "a"],
      { cwd: repo, encoding: "utf8" },
    );
    expect(out.stderr).toContain("slipway: started release #12");
    expect(readFileSync(join(root, "chained.log"), "utf8")).toBe("chained\n");
    const sha = git(repo, "rev-parse", "HEAD");
    expect(received).toHaveLength(1);
    expect(received[0]?.headers["x-slipway-hook-token"]).toBe("slw_hook_t0ken-t0ken-t0ken");
    expect(received[0]?.body).toMatchObject({
      hook: "post-commit",
      updates: [{ before: ZERO_ID, after: sha, ref: "refs/heads/main" }],
    });

    // Inside a pipeline step, hooks stay quiet: a step that commits does not start runs of itself.
    writeFileSync(join(repo, "b.txt"), "b\n");
    git(repo, "add", "b.txt");
    await execAsync("git", ["-c", "user.name=A", "-c", "user.email=a@e", "commit", "-q", "-m", "b"], {
      cwd: repo,
      env: { ...process.env, SLIPWAY_RUN_ID: "1" },
    });
    expect(received).toHaveLength(1);

    const removed = await removeHooks(repo);
    expect(removed.restored).toEqual([join(hooksDir, "post-commit")]);
    expect(readFileSync(join(hooksDir, "post-commit"), "utf8")).toBe(original);
    expect(existsSync(join(hooksDir, "post-receive"))).toBe(false);
    expect(existsSync(join(hooksDir, SENDER_FILE))).toBe(false);
  });

  it("never fails a push when the control plane is down, and says so in one line", async () => {
    const bare = join(root, "bare.git");
    git(root, "init", "-q", "--bare", "-b", "main", bare);
    const installed = await installHooks({
      location: bare,
      repositoryId: "repo_x",
      token: "slw_hook_t0ken-t0ken-t0ken",
      serverUrl: "http://127.0.0.1:9", // discard port: nothing listens
    });
    expect(installed.bare).toBe(true);
    expect(installed.hooks).toEqual([join(bare, "hooks", "post-receive")]);
    const work = join(root, "work");
    mkdirSync(work);
    git(work, "init", "-q", "-b", "main");
    commit(work, { "a.txt": "a\n" }, "a");
    const out = spawnSync("git", ["push", bare, "main"], { cwd: work, encoding: "utf8" });
    expect(out.status).toBe(0);
    expect(out.stderr).toContain("slipway: could not reach the control plane");
  });
});
