/**
 * The reproduction end to end: a step writes a secret to a job output. A real control plane
 * (`slipway server`, the secret in its environment), the built CLI, the API with a viewer token, and the
 * SQLite file itself: the value is nowhere in clear, and the refusal is reported naming the output.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli, type BackgroundCli } from "../test-support/cli.js";

const SECRET = "probe-S3cret-0f-the-server";
const BASE64 = Buffer.from(SECRET).toString("base64").replace(/=+$/, "");

describe("a secret written to a job output (real server, CLI, API and database)", () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-cli-secrets-"));
  const repo = join(root, "repo");
  let server: BackgroundCli;
  let url = "";
  const cli = (args: string[]) => runCli(args, { cwd: repo, timeoutMs: 60_000 });

  beforeAll(async () => {
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(repo, ".gitignore"), ".slipway/\n");
    writeFileSync(
      join(repo, "slipway.yaml"),
      `project: demo
pipelines:
  probe:
    on: { manual: {} }
    secrets: [PROBE_SECRET]
    jobs:
      build:
        outputs: [key, version]
        steps:
          - run: echo "key=$PROBE_SECRET" >> "$SLIPWAY_OUTPUT"; echo "version=1.2.3" >> "$SLIPWAY_OUTPUT"
      use:
        needs: [build]
        steps: [ { run: 'echo "using \${{ needs.build.outputs.key }} at \${{ needs.build.outputs.version }}"' } ]
`,
    );
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=A", "-c", "user.email=a@example.com", ...args], { cwd: repo });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "probe");
    server = await startCli(["server", "--listen", "127.0.0.1:0", "--log-level", "warn"], {
      cwd: repo,
      env: { PROBE_SECRET: SECRET },
      ready: (out) => out.includes("Ctrl-C to stop"),
      timeoutMs: 30_000,
    });
    url = /control plane on (http:\/\/\S+)/.exec(server.output())?.[1] ?? "";
    expect((await cli(["apply", "-y"])).code).toBe(0);
    expect((await cli(["repo", "add", "."])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await server.stop("SIGTERM");
    rmSync(root, { recursive: true, force: true });
  });

  it("is refused with a warning naming the output, and shows nowhere in clear", async () => {
    const run = await cli(["pipeline", "run", "probe", "--wait"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("build.key skipped: it may contain a secret");
    expect(run.stdout).toContain("build.version = 1.2.3");
    const id = Number(/\(run (\d+)\)/.exec(run.stdout)?.[1]);

    const logs = await cli(["pipeline", "logs", String(id)]);
    expect(logs.stdout).toContain("Skip output 'key' since it may contain secret");
    expect(logs.stdout).toMatch(/using {2}at 1\.2\.3$/m);
    const shown = await cli(["pipeline", "show", String(id), "--json"]);

    const token = JSON.parse(
      (await cli(["token", "create", "dash", "--role", "viewer", "--json"])).stdout,
    ) as {
      token: string;
    };
    const response = await fetch(`${url}/api/v1/pipeline-runs/${id}`, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    const state = (JSON.parse(body) as { state: { jobs: { name: string; skippedOutputs?: string[] }[] } })
      .state;
    expect(state.jobs.find((j) => j.name === "build")?.skippedOutputs).toEqual(["key"]);
    const events = await fetch(`${url}/api/v1/events?limit=1000`, {
      headers: { authorization: `Bearer ${token.token}` },
    });

    const db = new Database(join(repo, ".slipway", "slipway.db"), { readonly: true });
    const rows = JSON.stringify([
      db.prepare("SELECT * FROM pipeline_runs").all(),
      db.prepare("SELECT * FROM events").all(),
    ]);
    db.close();
    const everything = [run.stdout, logs.stdout, shown.stdout, body, await events.text(), rows];
    for (const text of everything) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(BASE64);
    }
    expect(rows).toContain("pipeline.output.skipped");
  }, 60_000);
});
