/**
 * Fuzzing the webhook endpoints of a real control plane: random and mutated bodies and headers for
 * GitHub, GitLab, Gitea and the local git hook, signed with the repository's real secret (so they reach
 * the parsers) or not. Each case knows what it must get:
 *
 * - unsigned or wrongly signed (or the wrong hook token): 401 and nothing written;
 * - signed but malformed (body, event header, delivery id): 400 and nothing written;
 * - signed and well-formed: 202, and a run exactly when it is a push of `main` (what the pipeline
 *   wants); the same body again under a new delivery id: 409 and nothing written;
 * - never a 5xx. "Written" is counted in the database itself: runs, deliveries and events.
 *
 * The engine is stopped, so created runs stay queued: this fuzzes the intake, not the steps.
 */
import { execFileSync } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { startServer, type RunningServer } from "../server/index.js";
import { SQLITE_FILE_NAME } from "../store/index.js";

type Provider = "github" | "gitlab" | "gitea";
type Signing = "signed" | "unsigned" | "wrong_key" | "tampered" | "garbled";
type BodyMutation = "none" | "drop" | "retype" | "truncate" | "garbage";
type HeaderMutation = "none" | "no_event" | "other_event" | "no_delivery" | "bad_delivery";

const CONFIG = `project: demo
environments:
  staging: { router: { listen: 127.0.0.1:18394 } }
services: {}
pipelines:
  ci:
    on: { push: { branches: [main] } }
    jobs: { build: { steps: [ { run: "true" } ] } }
`;
const ZERO = "0".repeat(40);
const REQUIRED: Record<Provider, string[]> = {
  github: ["ref", "before", "after", "repository"],
  gitlab: ["ref", "before", "after", "project"],
  gitea: ["ref", "before", "after", "repository"],
};
const EVENT_HEADER: Record<Provider, [string, string, string]> = {
  github: ["x-github-event", "push", "issues"],
  gitlab: ["x-gitlab-event", "Push Hook", "Merge Request Hook"],
  gitea: ["x-gitea-event", "push", "create"],
};
const DELIVERY_HEADER: Record<Provider, string> = {
  github: "x-github-delivery",
  gitlab: "x-gitlab-event-uuid",
  gitea: "x-gitea-delivery",
};
/** Bounded: the whole file stays well under 20 s on a loaded 2-core machine (about 50 ms a case). */
const FUZZ = { numRuns: 80, interruptAfterTimeLimit: 4_000 };
const FUZZ_LOCAL = { numRuns: 60, interruptAfterTimeLimit: 3_000 };

const hex40 = fc.stringMatching(/^[0-9a-f]{40}$/);
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
const ref = fc.constantFrom("refs/heads/main", "refs/heads/feature/x", "refs/tags/v1.0.0", "refs/notes/x");
const wrongType = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(""),
  fc.array(fc.nat(), { maxLength: 2 }),
);

interface Push {
  ref: string;
  before: string;
  after: string;
  pusher: string;
  deleted: boolean;
}

const pushArb = fc.record({
  ref,
  before: fc.oneof(hex40, fc.constant(ZERO)),
  after: hex40,
  pusher: name,
  deleted: fc.boolean(),
});

function payload(provider: Provider, p: Push, nonce: string): Record<string, unknown> {
  const after = p.deleted ? ZERO : p.after;
  const commits = p.deleted
    ? []
    : [{ id: after, message: "m", added: ["src/a.js"], modified: [], removed: [] }];
  switch (provider) {
    case "github":
      return {
        ref: p.ref,
        before: p.before,
        after,
        commits,
        head_commit: p.deleted ? null : { id: after, message: "m", author: { name: "A" } },
        repository: { full_name: "acme/demo", clone_url: "https://github.com/acme/demo.git" },
        pusher: { name: p.pusher },
        x_fuzz: nonce,
      };
    case "gitlab":
      return {
        ref: p.ref,
        before: p.before,
        after,
        checkout_sha: p.deleted ? null : after,
        user_username: p.pusher,
        project: { path_with_namespace: "acme/demo", git_http_url: "https://gitlab.com/acme/demo.git" },
        commits,
        total_commits_count: commits.length,
        x_fuzz: nonce,
      };
    case "gitea":
      return {
        ref: p.ref,
        before: p.before,
        after,
        commits,
        total_commits: commits.length,
        repository: { full_name: "acme/demo", clone_url: "https://gitea.example/acme/demo.git" },
        pusher: { login: p.pusher },
        x_fuzz: nonce,
      };
  }
}

const webhookCase = fc.record({
  provider: fc.constantFrom<Provider>("github", "gitlab", "gitea"),
  push: pushArb,
  signing: fc.constantFrom<Signing>(
    "signed",
    "signed",
    "signed",
    "unsigned",
    "wrong_key",
    "tampered",
    "garbled",
  ),
  body: fc.constantFrom<BodyMutation>("none", "none", "drop", "retype", "truncate", "garbage"),
  headers: fc.constantFrom<HeaderMutation>(
    "none",
    "none",
    "none",
    "no_event",
    "other_event",
    "no_delivery",
    "bad_delivery",
  ),
  field: fc.nat(),
  cut: fc.nat(),
  junk: fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
  ),
  retyped: wrongType,
  badDelivery: fc.constantFrom("a b", "x/y", "a,b", "z".repeat(200), "<script>"),
  replay: fc.boolean(),
});

type WebhookCase = typeof webhookCase extends fc.Arbitrary<infer T> ? T : never;

function mutateBody(c: WebhookCase, nonce: string): Buffer {
  const data = payload(c.provider, c.push, nonce);
  switch (c.body) {
    case "none":
      return Buffer.from(JSON.stringify(data));
    case "drop": {
      const keys = REQUIRED[c.provider];
      const dropped = keys[c.field % keys.length] ?? "ref";
      return Buffer.from(
        JSON.stringify(Object.fromEntries(Object.entries(data).filter(([k]) => k !== dropped))),
      );
    }
    case "retype": {
      const keys = REQUIRED[c.provider];
      data[keys[c.field % keys.length] ?? "ref"] = c.retyped;
      return Buffer.from(JSON.stringify(data));
    }
    case "truncate": {
      const text = JSON.stringify(data);
      return Buffer.from(text.slice(0, c.cut % text.length));
    }
    case "garbage":
      return c.junk;
  }
}

/** GitLab signs nothing: a changed body with the right token is authentic as far as anyone can tell. */
function effectiveSigning(c: WebhookCase): Signing {
  return c.provider === "gitlab" && c.signing === "tampered" ? "signed" : c.signing;
}

/** What the case must get: status, and how many runs it may create. */
function expected(c: WebhookCase): { status: number; runs: number; writes: boolean } {
  if (effectiveSigning(c) !== "signed") return { status: 401, runs: 0, writes: false };
  if (c.headers === "no_delivery" || c.headers === "bad_delivery")
    return { status: 400, runs: 0, writes: false };
  if (c.headers === "no_event") return { status: 400, runs: 0, writes: false };
  if (c.headers === "other_event") return { status: 202, runs: 0, writes: false };
  if (c.body !== "none") return { status: 400, runs: 0, writes: false };
  if (c.push.ref === "refs/notes/x") return { status: 202, runs: 0, writes: false };
  const wanted = c.push.ref === "refs/heads/main" && !c.push.deleted;
  return { status: 202, runs: wanted ? 1 : 0, writes: true };
}

describe("webhook endpoints under fuzzing", () => {
  let root: string;
  let dataDir: string;
  let server: RunningServer;
  let repoId: string;
  let secret: string;
  let token: string;
  let db: Database.Database;

  const counts = () =>
    db
      .prepare(
        "select (select count(*) from pipeline_runs) as runs, (select count(*) from webhook_deliveries) as deliveries, (select count(*) from events) as events",
      )
      .get() as { runs: number; deliveries: number; events: number };

  async function post(path: string, body: Buffer, headers: Record<string, string>) {
    const res = await request(`${server.url}${path}`, { method: "POST", headers, body });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      body: (text === "" ? {} : JSON.parse(text)) as { runs?: unknown[]; code?: string },
    };
  }

  function sign(c: WebhookCase, raw: Buffer, headers: Record<string, string>): Buffer {
    const key = c.signing === "wrong_key" ? `${secret}-not` : secret;
    const hmac = createHmac("sha256", key).update(raw).digest("hex");
    const sent = c.signing === "tampered" ? Buffer.concat([raw, Buffer.from(" ")]) : raw;
    if (c.signing === "unsigned") return sent;
    if (c.provider === "github")
      headers["x-hub-signature-256"] = c.signing === "garbled" ? `sha1=${hmac}` : `sha256=${hmac}`;
    if (c.provider === "gitea") headers["x-gitea-signature"] = c.signing === "garbled" ? hmac.slice(1) : hmac;
    if (c.provider === "gitlab")
      headers["x-gitlab-token"] = c.signing === "garbled" ? "x" : c.signing === "tampered" ? secret : key;
    return sent;
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-hooks-fuzz-"));
    dataDir = join(root, "data");
    const repo = join(root, "repo");
    mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=A", "-c", "user.email=a@example.com", ...args], { cwd: repo });
    git("init", "-q", "-b", "main");
    writeFileSync(join(repo, "README.md"), "demo\n");
    git("add", "-A");
    git("commit", "-q", "-m", "initial");
    server = await startServer({
      settings: {
        listen: { host: "127.0.0.1", port: 0 },
        dataDir,
        databaseUrl: undefined,
        logLevel: "silent",
      },
      logger: createSilentLogger(),
    });
    await server.pipelines.stop();
    const admin = { authorization: `Bearer ${server.adminToken ?? ""}`, "content-type": "application/json" };
    await request(`${server.url}/api/v1/config/apply`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ source: CONFIG, file: "slipway.yaml", baseRevision: 0 }),
    });
    const added = await request(`${server.url}/api/v1/repositories`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "demo", location: repo }),
    });
    const body = (await added.body.json()) as { repository: { id: string }; webhookSecret: string };
    repoId = body.repository.id;
    secret = body.webhookSecret;
    const sender = readFileSync(join(repo, ".git", "hooks", "slipway-hook.mjs"), "utf8");
    token = /^const TOKEN = "([^"]+)";$/m.exec(sender)?.[1] ?? "";
    db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
  }, 60_000);

  afterAll(async () => {
    db.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("provider webhooks: 401 unsigned, 400 malformed, 202 well-formed, 409 replayed; never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(webhookCase, async (c) => {
        const nonce = randomUUID();
        const headers: Record<string, string> = { "content-type": "application/json" };
        const [eventName, push, other] = EVENT_HEADER[c.provider];
        if (c.headers !== "no_event") headers[eventName] = c.headers === "other_event" ? other : push;
        if (c.headers === "bad_delivery") headers[DELIVERY_HEADER[c.provider]] = c.badDelivery;
        else if (c.headers !== "no_delivery") headers[DELIVERY_HEADER[c.provider]] = randomUUID();
        const raw = mutateBody(c, nonce);
        const sent = sign(c, raw, headers);
        const want = expected(c);
        const before = counts();
        const res = await post(`/hooks/${c.provider}/${repoId}`, sent, headers);
        expect(res.status, JSON.stringify(res.body)).toBe(want.status);
        const after = counts();
        expect(after.runs - before.runs).toBe(want.runs);
        if (!want.writes) expect(after).toEqual(before);
        if (want.status === 202) expect(res.body.runs).toHaveLength(want.runs);
        if (!c.replay || !want.writes) return;
        // The same signed body under a new delivery id: a replay, refused, nothing written.
        headers[DELIVERY_HEADER[c.provider]] = randomUUID();
        const again = await post(`/hooks/${c.provider}/${repoId}`, sent, headers);
        expect(again.status).toBe(409);
        expect(again.body.code).toBe("webhook_replayed");
        expect(counts()).toEqual(after);
      }),
      FUZZ,
    );
  });

  it("the local hook endpoint: 401 without its token, 400 malformed, 202 or 409 otherwise; never 5xx", async () => {
    const updateArb = fc.record({
      before: fc.oneof(hex40, fc.constant(ZERO)),
      after: fc.oneof(hex40, fc.constant(ZERO)),
      ref,
    });
    const localCase = fc.record({
      credential: fc.constantFrom("token", "token", "token", "none", "wrong", "webhook_secret", "legacy"),
      update: updateArb,
      body: fc.constantFrom(
        "none",
        "none",
        "extra_key",
        "no_updates",
        "empty_updates",
        "bad_sha",
        "truncate",
        "garbage",
      ),
      junk: fc.jsonValue(),
      replay: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(localCase, async (c) => {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (c.credential === "token") headers["x-slipway-hook-token"] = token;
        if (c.credential === "wrong") headers["x-slipway-hook-token"] = `${token}x`;
        if (c.credential === "webhook_secret") headers["x-slipway-hook-token"] = secret;
        if (c.credential === "legacy") headers["x-slipway-hook-secret"] = secret;
        const valid = { hook: "post-receive", pusher: "alice", updates: [c.update] } as Record<
          string,
          unknown
        >;
        const text = JSON.stringify(valid);
        const bodies: Record<string, unknown> = {
          none: valid,
          extra_key: { ...valid, admin: true },
          no_updates: { hook: "post-receive" },
          empty_updates: { ...valid, updates: [] },
          bad_sha: { ...valid, updates: [{ ...c.update, after: "HEAD" }] },
          garbage: c.junk,
        };
        const raw = Buffer.from(
          c.body === "truncate" ? text.slice(0, text.length - 1) : JSON.stringify(bodies[c.body]),
        );
        const ok = c.credential === "token";
        const wellFormed = c.body === "none";
        const kind = c.update.ref.startsWith("refs/heads/") || c.update.ref.startsWith("refs/tags/");
        const runs =
          ok && wellFormed && c.update.ref === "refs/heads/main" && c.update.after !== ZERO ? 1 : 0;
        const writes = ok && wellFormed && kind;
        const before = counts();
        const res = await post(`/hooks/local/${repoId}`, raw, headers);
        const after = counts();
        // The same update twice: the first may already be a replay of an earlier case with the same sha.
        if (res.status === 409) {
          expect(res.body.code).toBe("webhook_replayed");
          expect(after).toEqual(before);
          return;
        }
        expect(res.status, JSON.stringify(res.body)).toBe(!ok ? 401 : !wellFormed ? 400 : 202);
        expect(after.runs - before.runs).toBe(runs);
        if (!writes) expect(after).toEqual(before);
        if (!c.replay || !writes) return;
        const again = await post(`/hooks/local/${repoId}`, raw, headers);
        expect(again.status).toBe(409);
        expect(counts()).toEqual(after);
      }),
      FUZZ_LOCAL,
    );
  });

  it("an unknown repository, a wrong content type or a body over the limit: 404, 415, 413; nothing written", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Provider | "local">("github", "gitlab", "gitea", "local"),
        fc.constantFrom("unknown", "text/plain", "form", "huge"),
        async (provider, what) => {
          const before = counts();
          const path = `/hooks/${provider}/${what === "unknown" ? "repo_aaaaaaaaaa" : repoId}`;
          const type =
            what === "text/plain"
              ? "text/plain"
              : what === "form"
                ? "application/x-www-form-urlencoded"
                : "application/json";
          const body = Buffer.from(what === "huge" ? `"${"x".repeat(2 * 1024 * 1024)}"` : "{}");
          const res = await post(path, body, { "content-type": type });
          expect(res.status).toBe({ unknown: 404, "text/plain": 415, form: 415, huge: 413 }[what]);
          expect(counts()).toEqual(before);
        },
      ),
      { numRuns: 16, interruptAfterTimeLimit: 2_000 },
    );
  });
});
