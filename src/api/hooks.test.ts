/**
 * Webhook secrets at rest and replay protection, through a real control plane (startServer on port 0,
 * a temp data dir, a real git repository, the SQLite file read back with better-sqlite3).
 */
import { execFileSync } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { startServer, type RunningServer } from "../server/index.js";
import { SQLITE_FILE_NAME } from "../store/index.js";

const CONFIG = `project: demo
environments:
  staging: { router: { listen: 127.0.0.1:18392 } }
services: {}
pipelines:
  ci:
    on:
      push: { branches: [main] }
    jobs:
      build:
        steps:
          - run: "true"
`;

interface Answer<T> {
  status: number;
  body: T;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Alice", "-c", "user.email=alice@example.com", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();
}

/** Every file under a directory, as text. */
function readTree(dir: string): string {
  let text = "";
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    text += entry.isDirectory() ? readTree(path) : readFileSync(path, "utf8");
  }
  return text;
}

describe("webhook secrets and replays on a real control plane", () => {
  let root: string;
  let repo: string;
  let dataDir: string;
  let server: RunningServer;
  let admin: string;
  let repoId: string;
  let secret: string;

  async function call<T = unknown>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${admin}` },
  ): Promise<Answer<T>> {
    const payload = typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body);
    const res = await request(`${server.url}${path}`, {
      method,
      headers: { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...headers },
      ...(payload === undefined ? {} : { body: payload }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text === "" ? undefined : JSON.parse(text)) as T };
  }

  const runCount = async () => (await server.store.pipelines.listRuns({ limit: 1000 })).length;
  const hmac = (body: string) => createHmac("sha256", secret).update(body).digest("hex");
  const githubPush = (sha: string, note = "") =>
    JSON.stringify({
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: sha,
      commits: [],
      head_commit: { id: sha, message: `m${note}`, author: { name: "Octo" } },
      repository: { full_name: "acme/demo", clone_url: "https://github.com/acme/demo.git" },
      pusher: { name: "octocat" },
    });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-hooks-api-"));
    repo = join(root, "repo");
    dataDir = join(root, "data");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "README.md"), "demo\n");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "initial");
    server = await startServer({
      settings: {
        listen: { host: "127.0.0.1", port: 0 },
        dataDir,
        databaseUrl: undefined,
        logLevel: "silent",
      },
      logger: createSilentLogger(),
    });
    admin = server.adminToken ?? "";
    const applied = await call("POST", "/api/v1/config/apply", {
      source: CONFIG,
      file: "slipway.yaml",
      baseRevision: 0,
    });
    expect(applied.status).toBe(200);
    const added = await call<{ repository: { id: string }; webhookSecret: string }>(
      "POST",
      "/api/v1/repositories",
      { name: "demo", location: repo },
    );
    expect(added.status).toBe(201);
    repoId = added.body.repository.id;
    secret = added.body.webhookSecret;
  }, 60_000);

  afterAll(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("keeps the webhook secret out of the database and out of the installed git hook", () => {
    const db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
    try {
      const rows = db.prepare("select * from repositories").all();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(secret);
    } finally {
      db.close();
    }
    const hooks = readTree(join(repo, ".git", "hooks"));
    expect(hooks).toContain("slipway-hook");
    expect(hooks).not.toContain(secret);
    const key = statSync(join(dataDir, "keys", "data.key"));
    expect(key.mode & 0o777).toBe(0o600);
  });

  it("gives the hook its own token: it reports pushes of its repository and can do nothing else", async () => {
    const sender = readFileSync(join(repo, ".git", "hooks", "slipway-hook.mjs"), "utf8");
    const token = /^const TOKEN = "(slw_hook_[A-Za-z0-9_-]+)";$/m.exec(sender)?.[1] ?? "";
    expect(token).not.toBe("");
    const sha = git(repo, "rev-parse", "HEAD");
    const update = (ref: string) =>
      JSON.stringify({
        hook: "post-receive",
        pusher: "alice",
        updates: [{ before: "0".repeat(40), after: sha, ref }],
      });
    const before = await runCount();
    // The webhook secret is not accepted by the local endpoint, nor the token as a webhook secret.
    const withSecret = await call("POST", `/hooks/local/${repoId}`, update("refs/heads/main"), {
      "x-slipway-hook-token": secret,
    });
    expect(withSecret.status).toBe(401);
    const legacy = await call<{ hint: string }>("POST", `/hooks/local/${repoId}`, update("refs/heads/main"), {
      "x-slipway-hook-secret": secret,
    });
    expect(legacy.status).toBe(401);
    expect(legacy.body.hint).toContain("installed by an earlier Slipway");
    const body = githubPush(sha, "token-as-key");
    const signedWithToken = await call("POST", `/hooks/github/${repoId}`, body, {
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${createHmac("sha256", token).update(body).digest("hex")}`,
    });
    expect(signedWithToken.status).toBe(401);
    const gitlabWithToken = await call("POST", `/hooks/gitlab/${repoId}`, body, {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-event-uuid": randomUUID(),
      "x-gitlab-token": token,
    });
    expect(gitlabWithToken.status).toBe(401);
    // Another repository does not take this one's token.
    const other = join(root, "other");
    mkdirSync(other);
    git(other, "init", "-q", "-b", "main");
    const added = await call<{ repository: { id: string } }>("POST", "/api/v1/repositories", {
      name: "other",
      location: other,
    });
    const elsewhere = await call(
      "POST",
      `/hooks/local/${added.body.repository.id}`,
      update("refs/heads/main"),
      {
        "x-slipway-hook-token": token,
      },
    );
    expect(elsewhere.status).toBe(401);
    expect(await runCount()).toBe(before);
    // Its own repository: the push is reported once; the same update again is a replay.
    const ok = await call<{ runs: unknown[] }>("POST", `/hooks/local/${repoId}`, update("refs/heads/main"), {
      "x-slipway-hook-token": token,
    });
    expect(ok.status).toBe(202);
    expect(ok.body.runs).toHaveLength(1);
    const again = await call<{ code: string }>("POST", `/hooks/local/${repoId}`, update("refs/heads/main"), {
      "x-slipway-hook-token": token,
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("webhook_replayed");
    expect(await runCount()).toBe(before + 1);
    expect((await server.store.pipelines.findRepository("other"))?.hookTokenHash).toMatch(/^[0-9a-f]{64}$/);
    await server.triggers.removeRepository("other", "test");
  });

  it("uses GitLab's Idempotency-Key as the delivery id when it is sent", async () => {
    const sha = git(repo, "rev-parse", "HEAD");
    const gitlab = JSON.stringify({
      ref: "refs/heads/main",
      before: "2".repeat(40),
      after: sha,
      checkout_sha: sha,
      user_username: "tanuki",
      project: { path_with_namespace: "acme/demo", git_http_url: "https://gitlab.com/acme/demo.git" },
    });
    const key = randomUUID();
    const res = await call<{ runs: { id: number }[] }>("POST", `/hooks/gitlab/${repoId}`, gitlab, {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-event-uuid": randomUUID(),
      "idempotency-key": key,
      "x-gitlab-token": secret,
    });
    expect(res.status).toBe(202);
    const run = await server.store.pipelines.getRun(res.body.runs[0]?.id ?? 0);
    expect(run.trigger.deliveryId).toBe(key);
  });

  it("refuses the same signed body under a new delivery id (409) and starts nothing", async () => {
    const body = githubPush(git(repo, "rev-parse", "HEAD"), "replay");
    const headers = (delivery: string) => ({
      "x-github-event": "push",
      "x-github-delivery": delivery,
      "x-hub-signature-256": `sha256=${hmac(body)}`,
    });
    const first = await call<{ runs: unknown[] }>(
      "POST",
      `/hooks/github/${repoId}`,
      body,
      headers(randomUUID()),
    );
    expect(first.status).toBe(202);
    expect(first.body.runs).toHaveLength(1);
    const before = await runCount();
    const again = await call<{ code: string }>(
      "POST",
      `/hooks/github/${repoId}`,
      body,
      headers(randomUUID()),
    );
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("webhook_replayed");
    expect(await runCount()).toBe(before);
  });

  it("refuses a signed delivery without its delivery id (400) for each provider, starting nothing", async () => {
    const sha = git(repo, "rev-parse", "HEAD");
    const before = await runCount();
    const github = githubPush(sha, "no-id");
    const gh = await call<{ detail: string }>("POST", `/hooks/github/${repoId}`, github, {
      "x-github-event": "push",
      "x-hub-signature-256": `sha256=${hmac(github)}`,
    });
    expect(gh.status).toBe(400);
    expect(gh.body.detail).toContain("X-GitHub-Delivery");
    const gitea = JSON.stringify({
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: sha,
      repository: { full_name: "acme/demo", clone_url: "https://gitea.example/acme/demo.git" },
      pusher: { login: "tea" },
    });
    const gt = await call<{ detail: string }>("POST", `/hooks/gitea/${repoId}`, gitea, {
      "x-gitea-event": "push",
      "x-gitea-signature": hmac(gitea),
    });
    expect(gt.status).toBe(400);
    expect(gt.body.detail).toContain("X-Gitea-Delivery");
    const gitlab = JSON.stringify({
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: sha,
      checkout_sha: sha,
      user_username: "tanuki",
      project: { path_with_namespace: "acme/demo", git_http_url: "https://gitlab.com/acme/demo.git" },
    });
    const gl = await call<{ detail: string }>("POST", `/hooks/gitlab/${repoId}`, gitlab, {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": secret,
    });
    expect(gl.status).toBe(400);
    expect(gl.body.detail).toContain("X-Gitlab-Event-UUID");
    expect(await runCount()).toBe(before);
  });

  it("records a delivery only with the runs it started: one that failed can be redelivered", async () => {
    const body = githubPush(git(repo, "rev-parse", "HEAD"), "fails-once");
    const headers = {
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${hmac(body)}`,
    };
    // A fault in the engine for the first attempt only (the store is fine; the run is not created).
    const engine = server.pipelines;
    const startRun = engine.startRun.bind(engine);
    engine.startRun = () => {
      engine.startRun = startRun;
      return Promise.reject(new Error("injected: the engine failed"));
    };
    const before = await runCount();
    const failed = await call("POST", `/hooks/github/${repoId}`, body, headers);
    expect(failed.status).toBe(500);
    expect(await runCount()).toBe(before);
    const redelivered = await call<{ runs: unknown[] }>("POST", `/hooks/github/${repoId}`, body, headers);
    expect(redelivered.status).toBe(202);
    expect(redelivered.body.runs).toHaveLength(1);
    expect(await runCount()).toBe(before + 1);
  });

  it("refuses a GitLab body seen before under another event UUID (409)", async () => {
    const sha = git(repo, "rev-parse", "HEAD");
    const gitlab = JSON.stringify({
      ref: "refs/heads/main",
      before: "1".repeat(40),
      after: sha,
      checkout_sha: sha,
      user_username: "tanuki",
      project: { path_with_namespace: "acme/demo", git_http_url: "https://gitlab.com/acme/demo.git" },
    });
    const send = (uuid: string) =>
      call<{ runs?: unknown[]; code?: string }>("POST", `/hooks/gitlab/${repoId}`, gitlab, {
        "x-gitlab-event": "Push Hook",
        "x-gitlab-event-uuid": uuid,
        "x-gitlab-token": secret,
      });
    const first = await send(randomUUID());
    expect(first.status).toBe(202);
    const before = await runCount();
    const again = await send(randomUUID());
    expect(again.status).toBe(409);
    expect(await runCount()).toBe(before);
  });
});
