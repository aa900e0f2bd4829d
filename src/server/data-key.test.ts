/**
 * The data key through real control planes on a temp data dir: created at first start, refused when
 * missing while the store holds sealed secrets, a wrong key answered as a coded 503, a loose mode
 * tightened with a warning, and an upgrade from a version that stored the webhook secret in clear (in
 * the database and in the installed git hook).
 */
import { execFile, execFileSync } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dataKeyId } from "../secrets/index.js";
import { SQLITE_FILE_NAME } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { dataKeyPath, resolveServerSettings, startServer, type RunningServer } from "./index.js";

const execAsync = promisify(execFile);
const CONFIG = `project: demo
environments:
  staging: { router: { listen: 127.0.0.1:18393 } }
services: {}
pipelines:
  ci:
    on: { push: { branches: [main] } }
    jobs: { build: { steps: [ { run: "true" } ] } }
`;

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Alice", "-c", "user.email=alice@example.com", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();
}

describe("the data key on a real control plane", () => {
  let root: string;
  let dataDir: string;
  let repo: string;
  let server: RunningServer | undefined;

  const start = async () =>
    (server = await startServer({
      settings: { listen: { host: "127.0.0.1", port: 0 }, dataDir, databaseUrl: undefined, logLevel: "info" },
    }));
  const stop = async () => {
    await server?.stop();
    server = undefined;
  };
  const keyFile = () => join(dataDir, "keys", "data.key");
  const logText = () => readFileSync(join(dataDir, "logs", "slipway.log"), "utf8");

  /** A first start: config applied, the repository added through the API; returns its id and secret. */
  async function firstStart(): Promise<{ id: string; secret: string; admin: string }> {
    const running = await start();
    const admin = running.adminToken ?? "";
    const post = async (path: string, body: unknown) => {
      const res = await request(`${running.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await res.body.json()) as Record<string, unknown>;
    };
    await post("/api/v1/config/apply", { source: CONFIG, file: "slipway.yaml", baseRevision: 0 });
    const added = (await post("/api/v1/repositories", { name: "demo", location: repo })) as {
      repository: { id: string };
      webhookSecret: string;
    };
    return { id: added.repository.id, secret: added.webhookSecret, admin };
  }

  async function githubPush(id: string, secret: string, note: string) {
    const sha = git(repo, "rev-parse", "HEAD");
    const body = JSON.stringify({
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: sha,
      head_commit: { id: sha, message: note, author: { name: "Octo" } },
      repository: { full_name: "acme/demo", clone_url: "https://github.com/acme/demo.git" },
      pusher: { name: "octocat" },
    });
    const res = await request(`${server?.url ?? ""}/hooks/github/${id}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
      body,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "slipway-data-key-"));
    dataDir = join(root, "data");
    repo = join(root, "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "README.md"), "demo\n");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "initial");
  });
  afterEach(async () => {
    await stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("is created at first start (0600, outside the database), then refused missing while secrets need it", async () => {
    const { id, secret } = await firstStart();
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
    const keyId = dataKeyId(Buffer.from(readFileSync(keyFile(), "utf8").trim(), "base64"));
    await stop();
    expect(logText()).toContain("created the data key that seals secrets at rest");

    renameSync(keyFile(), join(root, "saved.key"));
    const refused = await start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(SlipwayError);
    expect(refused).toMatchObject({
      code: "data_key_unusable",
      message: `there is no data key file at ${keyFile()}, but the store holds secrets sealed under data key ${keyId}`,
    });
    // Nothing was created in its place.
    expect(() => statSync(keyFile())).toThrow();

    renameSync(join(root, "saved.key"), keyFile());
    await start();
    expect((await githubPush(id, secret, "after restore")).status).toBe(202);
  });

  it("with another key: starts, logs which repository, and answers its webhooks 503 secret_unreadable", async () => {
    const { id, secret } = await firstStart();
    await stop();
    const other = randomBytes(32);
    writeFileSync(keyFile(), `${other.toString("base64")}\n`, { mode: 0o600 });
    await start();
    const before = (await server!.store.pipelines.listRuns()).length;
    const res = await githubPush(id, secret, "wrong key");
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("secret_unreadable");
    expect(String(res.body.detail)).toMatch(
      new RegExp(
        `^cannot decrypt repositories\\.webhook_secret:${id}: it was sealed under data key k[0-9a-f]{16}, but the loaded key is ${dataKeyId(other)}$`,
      ),
    );
    expect((await server!.store.pipelines.listRuns()).length).toBe(before);
    await stop();
    expect(logText()).toContain("this repository's webhook secret was sealed under another data key");
  });

  it("tightens a key file left open to others to 0600, with a warning in the log", async () => {
    await firstStart();
    await stop();
    chmodSync(keyFile(), 0o644);
    await start();
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
    await stop();
    expect(logText()).toContain("had mode 644 (open to group or others); tightened to 600");
  });

  it("upgrades a store and hooks from a version that kept the webhook secret in clear", async () => {
    const { id, secret } = await firstStart();
    await stop();
    // What Slipway 0.1 left: the clear secret in the row, the secret in the hook, no token hash.
    const db = new Database(join(dataDir, SQLITE_FILE_NAME));
    db.prepare(
      "update repositories set webhook_secret = ?, webhook_secret_sealed = null, hook_token_hash = null where id = ?",
    ).run(secret, id);
    db.close();
    const sender = join(repo, ".git", "hooks", "slipway-hook.mjs");
    writeFileSync(
      sender,
      readFileSync(sender, "utf8")
        .replace(/^const TOKEN = .*$/m, `const SECRET = ${JSON.stringify(secret)};`)
        .replace('"x-slipway-hook-token": TOKEN', '"x-slipway-hook-secret": SECRET'),
    );
    expect(readFileSync(sender, "utf8")).toContain(secret);

    await start();
    const check = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
    const rows = check.prepare("select * from repositories").all() as Record<string, unknown>[];
    check.close();
    expect(rows[0]).toMatchObject({ webhook_secret: "" });
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(String(rows[0]?.hook_token_hash)).toMatch(/^[0-9a-f]{64}$/);
    const rewritten = readFileSync(sender, "utf8");
    expect(rewritten).not.toContain(secret);
    expect(rewritten).toMatch(/^const TOKEN = "slw_hook_/m);

    // The git host keeps its secret; the rewritten hook reports a commit.
    expect((await githubPush(id, secret, "after upgrade")).status).toBe(202);
    writeFileSync(join(repo, "b.txt"), "b\n");
    git(repo, "add", "b.txt");
    const out = await execAsync(
      "git",
      ["-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-m", "b"],
      { cwd: repo, encoding: "utf8" },
    );
    expect(out.stderr).toMatch(/slipway: started ci #\d+/);
    await stop();
    expect(logText()).toContain("sealed webhook secrets stored in clear");
    // Shown once, by `repo add`: not in the log either (it logs every request at info).
    expect(logText()).not.toContain(secret);
  }, 60_000);
});

describe("data key settings", () => {
  it("defaults to <dataDir>/keys/data.key; SLIPWAY_DATA_KEY_FILE points elsewhere (shared by control planes)", () => {
    const plain = resolveServerSettings({ dataDir: "/srv/slipway" }, {});
    expect(plain.dataKeyFile).toBeUndefined();
    expect(dataKeyPath(plain)).toBe("/srv/slipway/keys/data.key");
    const shared = resolveServerSettings(
      { dataDir: "/srv/slipway" },
      { SLIPWAY_DATA_KEY_FILE: "/etc/slipway/data.key" },
    );
    expect(dataKeyPath(shared)).toBe("/etc/slipway/data.key");
  });
});
