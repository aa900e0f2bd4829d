/**
 * Pipelines through the HTTP API of a real control plane (startServer on port 0, a temp data dir, a
 * real git repository): manual runs with inputs, runs and their logs (JSON and live SSE), approve,
 * cancel, rerun, resume, webhooks from the three providers with signatures computed here, and the
 * local git hooks installed by POST /api/v1/repositories, driven by real `git commit` and `git push`.
 */
import { execFile, execFileSync } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { initialState } from "../pipeline/index.js";
import type { RunLogLine } from "../pipeline/index.js";
import type { PipelineSpec } from "../pipeline/index.js";
import type { RunState } from "../pipeline/index.js";
import { startServer, type RunningServer } from "../server/index.js";
import { waitFor } from "../test-support/wait-for.js";
import type { JsonValue, PipelineRun } from "../store/index.js";

const execAsync = promisify(execFile);

const CONFIG = `project: demo
environments:
  staging: { router: { listen: 127.0.0.1:18391 } }
services: {}
pipelines:
  release:
    on:
      push: { branches: [main] }
      manual:
        inputs:
          target: { type: choice, options: [staging, production], default: staging }
          dry: { type: boolean, default: false }
          note: { type: string, required: true }
    jobs:
      build:
        steps:
          - run: echo "target=\${{ inputs.target }}"
  slow:
    on: { manual: {} }
    jobs:
      work:
        steps:
          - run: echo first; sleep 2; echo second
  gated:
    on: { manual: {} }
    jobs:
      hold:
        steps:
          - approval: {}
          - run: echo approved
  nightly:
    on: { schedule: [ { cron: "0 3 * * *" } ] }
    jobs:
      a: { steps: [ { run: echo nightly } ] }
`;

type Run = PipelineRun & { state: RunState };

interface Answer<T> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

describe("pipelines API on a real control plane", () => {
  let root: string;
  let repo: string;
  let server: RunningServer;
  let admin: string;
  let repoId: string;
  let secret: string;

  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Alice", "-c", "user.email=alice@example.com", ...args], {
      cwd,
      encoding: "utf8",
    }).trim();

  async function api<T = unknown>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: unknown,
    token: string = admin,
  ): Promise<Answer<T>> {
    const res = await request(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      body: (text === "" ? undefined : JSON.parse(text)) as T,
      headers: res.headers,
    };
  }

  async function hook<T = unknown>(
    path: string,
    payload: string,
    headers: Record<string, string>,
  ): Promise<Answer<T>> {
    const res = await request(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: payload,
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      body: (text === "" ? undefined : JSON.parse(text)) as T,
      headers: res.headers,
    };
  }

  const finished = (run: PipelineRun) =>
    server.pipelines.waitForRun(run.id, AbortSignal.timeout(30_000)) as Promise<Run>;
  const runCount = async () => (await server.store.pipelines.listRuns({ limit: 1000 })).length;
  /** Waits until nothing is queued, running or waiting, so timings are not spent in a queue. */
  const idle = () =>
    waitFor(
      async () =>
        (await server.store.pipelines.listRuns({ statuses: ["queued", "running", "waiting"] })).length === 0,
      { what: "an idle engine", timeoutMs: 30_000 },
    );

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-pipelines-api-"));
    repo = join(root, "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "README.md"), "demo\n");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "initial");
    server = await startServer({
      settings: {
        listen: { host: "127.0.0.1", port: 0 },
        dataDir: join(root, "data"),
        databaseUrl: undefined,
        logLevel: "silent",
      },
      logger: createSilentLogger(),
    });
    admin = server.adminToken ?? "";
    const applied = await api<{ applied: boolean }>("POST", "/api/v1/config/apply", {
      source: CONFIG,
      file: "slipway.yaml",
      baseRevision: 0,
    });
    expect(applied.status).toBe(200);
    const added = await api<{
      repository: { id: string; kind: string };
      webhookSecret: string;
      webhooks: Record<string, string>;
      hook: string | null;
      hooks: string[];
    }>("POST", "/api/v1/repositories", { name: "demo", location: repo });
    expect(added.status).toBe(201);
    repoId = added.body.repository.id;
    secret = added.body.webhookSecret;
    expect(added.body.repository.kind).toBe("path");
    expect(secret.length).toBeGreaterThanOrEqual(16);
    expect(added.body.webhooks).toEqual({
      github: `${server.url}/hooks/github/${repoId}`,
      gitlab: `${server.url}/hooks/gitlab/${repoId}`,
      gitea: `${server.url}/hooks/gitea/${repoId}`,
    });
    expect(added.body.hook).toBe(join(repo, ".git", "hooks", "post-commit"));
    expect(added.body.hooks).toContain(join(repo, ".git", "hooks", "post-receive"));
  }, 60_000);

  afterAll(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("starts a manual run with its inputs checked and defaulted; bad inputs are 400 and start nothing", async () => {
    const head = git(repo, "rev-parse", "HEAD");
    const started = await api<Run>("POST", "/api/v1/pipelines/release/runs", {
      inputs: { target: "production", note: "hello" },
    });
    expect(started.status).toBe(201);
    expect(started.body.trigger).toMatchObject({
      kind: "manual",
      actor: "token:admin",
      ref: "refs/heads/main",
      branch: "main",
      tag: null,
      sha: head,
      repository: repoId,
      inputs: { target: "production", dry: false, note: "hello" },
    });
    const before = await runCount();
    const bad = [
      [
        { inputs: { target: "qa", note: "x" } },
        /target: "qa" is not one of the options: staging, production/,
      ],
      [{ inputs: { note: "x", colour: "red" } }, /has no input colour/],
      [{}, /input note is required/],
      [{ inputs: { note: "x", dry: "maybe" } }, /input dry: expected true or false/],
      [{ inputs: { note: "x" }, ref: "no-such-branch" }, /branch no-such-branch is not in repository demo/],
      [{ inputs: { note: "x" }, sha: "xyz" }, /sha/],
    ] as const;
    for (const [body, message] of bad) {
      const res = await api<{ detail: string; code: string }>("POST", "/api/v1/pipelines/release/runs", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.detail).toMatch(message);
    }
    expect(await runCount()).toBe(before);
    expect((await api("POST", "/api/v1/pipelines/nope/runs", {})).status).toBe(404);

    // A pipeline without on.manual can still be started through the API, as kind "api".
    const adhoc = await api<Run>("POST", "/api/v1/pipelines/nightly/runs");
    expect(adhoc.status, JSON.stringify(adhoc.body)).toBe(201);
    expect(adhoc.body.trigger.kind).toBe("api");
    expect((await api("POST", "/api/v1/pipelines/nightly/runs", { inputs: { x: "1" } })).status).toBe(400);

    const done = await finished(started.body);
    expect(done.status).toBe("succeeded");
    const logs = await api<{ lines: RunLogLine[] }>("GET", `/api/v1/pipeline-runs/${done.id}/logs`);
    expect(logs.body.lines.map((l) => l.text)).toContain("target=production");
    await finished(adhoc.body);
  });

  it("lists pipelines with triggers and last run, lists and shows runs; viewers read but may not start", async () => {
    const pipelines = await api<
      {
        name: string;
        triggers: Record<string, unknown>;
        lastRun: { number: number } | null;
        nextScheduledAt: string | null;
      }[]
    >("GET", "/api/v1/pipelines");
    expect(pipelines.status).toBe(200);
    const byName = Object.fromEntries(pipelines.body.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(["gated", "nightly", "release", "slow"]);
    expect(byName.release?.triggers).toMatchObject({ push: { branches: ["main"] }, manual: { inputs: {} } });
    expect(byName.release?.lastRun?.number).toBe(1);
    expect(byName.slow?.lastRun).toBeNull();
    expect(byName.nightly?.triggers).toEqual({ schedule: [{ cron: "0 3 * * *", timezone: "UTC" }] });
    expect(byName.nightly?.nextScheduledAt).toMatch(/T03:00:00.000Z$/);

    const runs = await api<{ id: number; pipeline: string; jobs: { name: string; status: string }[] }[]>(
      "GET",
      "/api/v1/pipeline-runs?limit=10",
    );
    expect(runs.body.map((r) => r.pipeline)).toEqual(["nightly", "release"]);
    expect(runs.body[1]?.jobs).toEqual([{ name: "build", status: "succeeded" }]);
    expect(runs.body[0]).not.toHaveProperty("state");
    const filtered = await api<{ pipeline: string }[]>(
      "GET",
      "/api/v1/pipeline-runs?pipeline=release&status=succeeded,failed",
    );
    expect(filtered.body.map((r) => r.pipeline)).toEqual(["release"]);
    const paged = await api<{ id: number }[]>("GET", `/api/v1/pipeline-runs?before=${runs.body[0]?.id ?? 0}`);
    expect(paged.body.map((r) => r.id)).toEqual([runs.body[1]?.id]);
    expect((await api("GET", "/api/v1/pipeline-runs?status=bogus")).status).toBe(400);

    const shown = await api<Run>("GET", `/api/v1/pipeline-runs/${runs.body[1]?.id ?? 0}`);
    expect(shown.body.state.jobs[0]?.steps[0]?.status).toBe("succeeded");
    expect((await api("GET", "/api/v1/pipeline-runs/9999")).status).toBe(404);
    const jobLogs = await api<{ lines: RunLogLine[] }>(
      "GET",
      `/api/v1/pipeline-runs/${shown.body.id}/logs?job=build&step=0`,
    );
    expect(jobLogs.body.lines.length).toBeGreaterThan(0);
    expect(jobLogs.body.lines.every((l) => l.job === "build" && l.step === 0)).toBe(true);
    expect((await api("GET", `/api/v1/pipeline-runs/${shown.body.id}/logs?job=nope`)).status).toBe(404);

    const viewer = await api<{ token: string }>("POST", "/api/v1/tokens", {
      name: "watcher",
      role: "viewer",
    });
    expect((await api("GET", "/api/v1/pipelines", undefined, viewer.body.token)).status).toBe(200);
    expect((await api("GET", "/api/v1/repositories", undefined, viewer.body.token)).status).toBe(200);
    const refused = await api("POST", "/api/v1/pipelines/slow/runs", {}, viewer.body.token);
    expect(refused.status).toBe(403);
    expect((await request(`${server.url}/api/v1/pipelines`)).statusCode).toBe(401);
  });

  it("streams a running step's lines over SSE before the step ends, then the stored ones to a late client", async () => {
    const started = await api<Run>("POST", "/api/v1/pipelines/slow/runs", {});
    const res = await request(`${server.url}/api/v1/pipeline-runs/${started.body.id}/logs`, {
      headers: { authorization: `Bearer ${admin}`, accept: "text/event-stream" },
    });
    expect(res.headers["content-type"]).toContain("text/event-stream");
    const events = await readSse(res.body);
    const lines = events
      .filter((e) => e.event === "line")
      .map((e) => ({ ...(e.data as RunLogLine), receivedAt: e.at }));
    const end = events.find((e) => e.event === "end");
    expect(events.at(-1)?.event).toBe("end");
    const run = end?.data as Run;
    expect(run.status).toBe("succeeded");
    const texts = lines.filter((l) => l.stream === "out").map((l) => l.text);
    expect(texts).toEqual(["first", "second"]);
    const keys = lines.map((l) => `${l.job}/${l.step}/${l.attempt}/${l.seq}`);
    expect(new Set(keys).size).toBe(keys.length);
    const step = run.state.jobs[0]?.steps[0];
    const first = lines.find((l) => l.text === "first");
    // "first" arrived while the step was still sleeping.
    expect(Date.parse(step?.finishedAt ?? "") - (first?.receivedAt ?? Infinity)).toBeGreaterThan(1_000);

    const late = await request(`${server.url}/api/v1/pipeline-runs/${started.body.id}/logs?follow=true`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const replay = await readSse(late.body);
    expect(replay.filter((e) => e.event === "line").map((e) => (e.data as RunLogLine).seq)).toEqual(
      lines.map((l) => l.seq),
    );
    expect(replay.at(-1)?.event).toBe("end");
  });

  it("approves, cancels, reruns and resumes runs through the API", async () => {
    const gated = await api<Run>("POST", "/api/v1/pipelines/gated/runs", {});
    await waitFor(
      async () => {
        const r = await api<Run>("GET", `/api/v1/pipeline-runs/${gated.body.id}`);
        return r.body.status === "waiting";
      },
      { what: "the gated run to wait", timeoutMs: 30_000 },
    );
    const self = await api<{ detail: string }>("POST", `/api/v1/pipeline-runs/${gated.body.id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.body.detail).toContain("admin started this run");
    const bob = await api<{ token: string }>("POST", "/api/v1/tokens", { name: "bob", role: "operator" });
    const approved = await api<Run>(
      "POST",
      `/api/v1/pipeline-runs/${gated.body.id}/approve`,
      { job: "hold" },
      bob.body.token,
    );
    expect(approved.status).toBe(200);
    expect((await finished(gated.body)).status).toBe("succeeded");
    // A refusal says which: a 409 with a code a client can act on (not a catch-all "conflict").
    const approvedTwice = await api(
      "POST",
      `/api/v1/pipeline-runs/${gated.body.id}/approve`,
      {},
      bob.body.token,
    );
    expect([approvedTwice.status, approvedTwice.body]).toMatchObject([409, { code: "no_approval_waiting" }]);

    const slow = await api<Run>("POST", "/api/v1/pipelines/slow/runs", {});
    await waitFor(
      async () => {
        const r = await api<Run>("GET", `/api/v1/pipeline-runs/${slow.body.id}`);
        return r.body.state.jobs[0]?.steps[0]?.status === "running";
      },
      { what: "the slow run's first step to run", timeoutMs: 30_000 },
    );
    const cancelled = await api<Run>("POST", `/api/v1/pipeline-runs/${slow.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    const cancelledTwice = await api("POST", `/api/v1/pipeline-runs/${slow.body.id}/cancel`);
    expect([cancelledTwice.status, cancelledTwice.body]).toMatchObject([
      409,
      { code: "run_not_cancellable" },
    ]);

    const rerun = await api<Run>("POST", `/api/v1/pipeline-runs/${slow.body.id}/rerun`, {});
    expect(rerun.status).toBe(201);
    expect(rerun.body.trigger).toMatchObject({ kind: "rerun", actor: "token:admin", rerunOf: slow.body.id });
    expect((await finished(rerun.body)).status).toBe("succeeded");
    const full = await api<Run>("POST", `/api/v1/pipeline-runs/${rerun.body.id}/rerun`, {
      failedOnly: false,
    });
    expect(full.status).toBe(201);
    expect((await finished(full.body)).status).toBe("succeeded");

    // An interrupted run (as a restart leaves it) goes back to the queue and finishes.
    const spec = (await server.store.config.listObjects()).find((o) => o.name === "release")?.spec;
    const interrupted = await server.store.pipelines.createRun({
      pipeline: "release",
      trigger: {
        kind: "manual",
        actor: "token:admin",
        ref: "refs/heads/main",
        sha: git(repo, "rev-parse", "HEAD"),
        branch: "main",
        tag: null,
        repository: repoId,
        inputs: { target: "staging", dry: false, note: "x" },
      },
      spec: spec ?? null,
      configRevision: 1,
      concurrencyGroup: null,
      state: initialState(spec as unknown as PipelineSpec) as unknown as JsonValue,
      status: "interrupted",
    });
    const resumed = await api<Run>("POST", `/api/v1/pipeline-runs/${interrupted.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe("queued");
    expect((await finished(interrupted)).status).toBe("succeeded");
    const resumedTwice = await api("POST", `/api/v1/pipeline-runs/${interrupted.id}/resume`);
    expect([resumedTwice.status, resumedTwice.body]).toMatchObject([409, { code: "run_not_resumable" }]);
    expect((await api("POST", "/api/v1/pipeline-runs/9999/cancel")).status).toBe(404);
  }, 60_000);

  describe("webhooks", () => {
    const head = () => git(repo, "rev-parse", "HEAD");
    const hmac = (body: string, key = secret) => createHmac("sha256", key).update(body).digest("hex");

    const githubPush = (ref: string, sha: string) =>
      JSON.stringify({
        ref,
        before: "0".repeat(40),
        after: sha,
        commits: [
          { id: sha, message: "m", author: { name: "Octo" }, added: ["src/a.js"], modified: [], removed: [] },
        ],
        head_commit: { id: sha, message: "m", author: { name: "Octo" } },
        repository: { full_name: "acme/demo", clone_url: "https://github.com/acme/demo.git" },
        pusher: { name: "octocat" },
      });

    it("starts a run for a signed push from GitHub, GitLab and Gitea, without a bearer token", async () => {
      const sha = head();
      const github = githubPush("refs/heads/main", sha);
      const gh = await hook<{ runs: { id: number; pipeline: string; number: number }[] }>(
        `/hooks/github/${repoId}`,
        github,
        {
          "x-github-event": "push",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": `sha256=${hmac(github)}`,
        },
      );
      expect(gh.status).toBe(202);
      expect(gh.body.runs.map((r) => r.pipeline)).toEqual(["release"]);
      const ghRun = await server.store.pipelines.getRun(gh.body.runs[0]?.id ?? 0);
      expect(ghRun.trigger).toMatchObject({
        kind: "push",
        actor: "github:octocat",
        sha,
        branch: "main",
        repository: repoId,
        changedPaths: ["src/a.js"],
      });

      const gitlab = JSON.stringify({
        ref: "refs/heads/main",
        before: "0".repeat(40),
        after: sha,
        checkout_sha: sha,
        user_username: "tanuki",
        project: { path_with_namespace: "acme/demo", git_http_url: "https://gitlab.com/acme/demo.git" },
        commits: [{ id: sha, message: "m", added: [], modified: ["README.md"], removed: [] }],
        total_commits_count: 1,
      });
      const gl = await hook<{ runs: { id: number }[] }>(`/hooks/gitlab/${repoId}`, gitlab, {
        "x-gitlab-event": "Push Hook",
        "x-gitlab-event-uuid": randomUUID(),
        "x-gitlab-token": secret,
      });
      expect(gl.status).toBe(202);
      expect((await server.store.pipelines.getRun(gl.body.runs[0]?.id ?? 0)).trigger.actor).toBe(
        "gitlab:tanuki",
      );

      const gitea = JSON.stringify({
        ref: "refs/heads/main",
        before: "0".repeat(40),
        after: sha,
        commits: [],
        total_commits: 0,
        repository: { full_name: "acme/demo", clone_url: "https://gitea.example/acme/demo.git" },
        pusher: { login: "tea" },
      });
      const gt = await hook<{ runs: { id: number }[] }>(`/hooks/gitea/${repoId}`, gitea, {
        "x-gitea-event": "push",
        "x-gitea-delivery": randomUUID(),
        "x-gitea-signature": hmac(gitea),
      });
      expect(gt.status).toBe(202);
      expect((await server.store.pipelines.getRun(gt.body.runs[0]?.id ?? 0)).trigger.actor).toBe("gitea:tea");
      for (const r of [...gh.body.runs, ...gl.body.runs, ...gt.body.runs]) {
        expect((await server.pipelines.waitForRun(r.id, AbortSignal.timeout(30_000))).status).toBe(
          "succeeded",
        );
      }
    }, 60_000);

    it("refuses a bad signature (401), a replay (409), a malformed body (400) and writes nothing", async () => {
      const sha = head();
      // Not the body of the test above: the same signed body twice is a replay whatever its delivery id.
      const body = githubPush("refs/heads/main", sha).replace('"before":"', '"x_test":"replay","before":"');
      const delivery = randomUUID();
      const before = await runCount();
      const wrong = await hook<{ detail: string }>(`/hooks/github/${repoId}`, body, {
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": `sha256=${hmac(body, "not-the-secret-at-all")}`,
      });
      expect(wrong.status).toBe(401);
      expect(wrong.body.detail).toContain("does not match");
      const missing = await hook(`/hooks/gitea/${repoId}`, body, { "x-gitea-event": "push" });
      expect(missing.status).toBe(401);
      const gitlabWrong = await hook(`/hooks/gitlab/${repoId}`, body, {
        "x-gitlab-event": "Push Hook",
        "x-gitlab-token": "nope",
      });
      expect(gitlabWrong.status).toBe(401);
      expect(await runCount()).toBe(before);

      const headers = {
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": `sha256=${hmac(body)}`,
      };
      const ok = await hook<{ runs: { id: number }[] }>(`/hooks/github/${repoId}`, body, headers);
      expect(ok.status).toBe(202);
      expect(ok.body.runs).toHaveLength(1);
      const replay = await hook<{ detail: string }>(`/hooks/github/${repoId}`, body, headers);
      expect(replay.status).toBe(409);
      expect(replay.body.detail).toBe(`delivery ${delivery} was processed already`);
      expect(await runCount()).toBe(before + 1);

      const malformed = JSON.stringify({ ...JSON.parse(body), repository: { full_name: "acme/demo" } });
      const bad = await hook<{ detail: string }>(`/hooks/github/${repoId}`, malformed, {
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${hmac(malformed)}`,
      });
      expect(bad.status).toBe(400);
      expect(bad.body.detail).toContain("repository.clone_url");
      const notJson = "{not json";
      const broken = await hook(`/hooks/gitea/${repoId}`, notJson, {
        "x-gitea-event": "push",
        "x-gitea-delivery": randomUUID(),
        "x-gitea-signature": hmac(notJson),
      });
      expect(broken.status).toBe(400);

      const unknown = await hook<{ detail: string }>("/hooks/github/repo_nosuchrepo00", body, headers);
      expect(unknown.status).toBe(404);
      expect(unknown.body.detail).toBe("no such webhook");
      const form = await request(`${server.url}/hooks/github/${repoId}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `payload=${encodeURIComponent(body)}`,
      });
      expect(form.statusCode).toBe(415);
      expect(((await form.body.json()) as { hint: string }).hint).toContain("application/json");
      expect(await runCount()).toBe(before + 1);
      await server.pipelines.waitForRun(ok.body.runs[0]?.id ?? 0, AbortSignal.timeout(30_000));
    });

    it("answers 202 with no runs and a reason for a push no pipeline wants, and for a ping", async () => {
      const body = githubPush("refs/heads/feature/x", head());
      const res = await hook<{ runs: unknown[]; reason: string }>(`/hooks/github/${repoId}`, body, {
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${hmac(body)}`,
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ runs: [], reason: "no pipeline matches branch feature/x" });
      const ping = JSON.stringify({ zen: "Keep it logically awesome." });
      const pong = await hook<{ runs: unknown[]; reason: string }>(`/hooks/github/${repoId}`, ping, {
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${hmac(ping)}`,
      });
      expect(pong.status).toBe(202);
      expect(pong.body.reason).toContain("ping");
    });
  });

  describe("local git hooks", () => {
    /** Runs a git command and measures the time to the resulting run's first step starting. */
    async function measure(
      what: string,
      act: () => Promise<{ stderr: string }>,
      sha: () => string,
    ): Promise<{ output: string; run: Run }> {
      await idle();
      const newest = (await server.store.pipelines.listRuns({ limit: 1 }))[0]?.id ?? 0;
      const t0 = Date.now();
      const { stderr } = await act();
      const gitDone = Date.now();
      const commit = sha();
      const run = await waitFor(
        async () =>
          (await server.store.pipelines.listRuns({ pipeline: "release", limit: 5 })).find(
            (r) => r.id > newest && r.trigger.sha === commit,
          ),
        { what: `a run of ${commit}`, timeoutMs: 30_000 },
      );
      const startedAt = await waitFor(
        async () => {
          const current = await server.store.pipelines.getRun(run.id);
          return (current.state as unknown as RunState).jobs[0]?.steps[0]?.startedAt;
        },
        { what: "the first step to start", timeoutMs: 30_000 },
      );
      console.log(
        `[hook latency] ${what}: git command took ${gitDone - t0} ms (hook included); ` +
          `first step started ${Date.parse(startedAt) - t0} ms after the command began`,
      );
      return { output: stderr, run: await finished(run) };
    }

    it("a git commit in the watched working repository starts a run through post-commit", async () => {
      writeFileSync(join(repo, "feature.txt"), `${Date.now()}\n`);
      git(repo, "add", "feature.txt");
      const { output, run } = await measure(
        "git commit (post-commit)",
        () =>
          execAsync(
            "git",
            ["-c", "user.name=Alice", "-c", "user.email=a@example.com", "commit", "-q", "-m", "feature"],
            {
              cwd: repo,
            },
          ),
        () => git(repo, "rev-parse", "HEAD"),
      );
      expect(output).toMatch(new RegExp(`slipway: started release #${run.number}\\b`));
      expect(run.status).toBe("succeeded");
      expect(run.trigger).toMatchObject({
        kind: "push",
        ref: "refs/heads/main",
        branch: "main",
        repository: repoId,
        changedPaths: ["feature.txt"],
      });
      expect(run.trigger.actor).toMatch(/^local:/);
      expect(run.trigger.deliveryId).toBe(`local:${repoId}:${run.trigger.sha ?? ""}:refs/heads/main`);
    }, 60_000);

    it("a git push into a bare repository watched by path starts a run through post-receive; removal restores", async () => {
      const bare = join(root, "origin.git");
      git(root, "init", "-q", "--bare", "-b", "main", bare);
      const added = await api<{ repository: { id: string }; hook: string }>("POST", "/api/v1/repositories", {
        name: "origin",
        location: bare,
        secret: "a-secret-of-sufficient-length",
      });
      expect(added.status).toBe(201);
      expect(added.body.hook).toBe(join(bare, "hooks", "post-receive"));
      const originId = added.body.repository.id;
      expect((await api("POST", "/api/v1/repositories", { name: "again", location: bare })).status).toBe(409);
      expect((await api("POST", "/api/v1/repositories", { name: "nogit", location: root })).status).toBe(400);

      const { output, run } = await measure(
        "git push (post-receive)",
        () => execAsync("git", ["push", bare, "main"], { cwd: repo }),
        () => git(repo, "rev-parse", "HEAD"),
      );
      expect(output).toMatch(new RegExp(`remote: slipway: started release #${run.number}\\b`));
      expect(run.trigger).toMatchObject({ kind: "push", repository: originId, branch: "main" });
      expect(run.status).toBe("succeeded");

      // With two repositories, a run by hand must name one.
      const ambiguous = await api<{ detail: string }>("POST", "/api/v1/pipelines/slow/runs", {});
      expect(ambiguous.status).toBe(400);
      expect(ambiguous.body.detail).toContain("several repositories are watched");
      const operator = await api<{ token: string }>("POST", "/api/v1/tokens", {
        name: "ops",
        role: "operator",
      });
      expect(
        (await api("DELETE", "/api/v1/repositories/origin", undefined, operator.body.token)).status,
      ).toBe(403);
      const removed = await api<{ id: string }>("DELETE", "/api/v1/repositories/origin");
      expect(removed.status).toBe(200);
      expect(removed.body.id).toBe(originId);
      expect(existsSync(join(bare, "hooks", "post-receive"))).toBe(false);
      expect((await api("DELETE", "/api/v1/repositories/origin")).status).toBe(404);
      const listed = await api<{ name: string }[]>("GET", "/api/v1/repositories");
      expect(listed.body.map((r) => r.name)).toEqual(["demo"]);
      expect(listed.body[0]).not.toHaveProperty("webhookSecret");
    }, 60_000);
  });
});

interface SseEvent {
  event: string;
  data: unknown;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/** Reads an SSE stream to its end. */
async function readSse(body: AsyncIterable<Buffer>): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  let buffer = "";
  for await (const chunk of body) {
    buffer += chunk.toString();
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end).split("\n");
      buffer = buffer.slice(end + 2);
      const event = block.find((l) => l.startsWith("event: "))?.slice(7);
      const data = block.find((l) => l.startsWith("data: "))?.slice(6);
      if (event !== undefined && data !== undefined) {
        events.push({ event, data: JSON.parse(data) as unknown, at: Date.now() });
      }
    }
  }
  return events;
}
