import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { startServer, type RunningServer } from "../server/index.js";
import { runCli, startCli, type BackgroundCli } from "../test-support/cli.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";
import { writeClientFile } from "./client-file.js";
import { standInApprovers } from "./pipeline-local.js";
import { SeenLines } from "./pipeline-follow.js";

/** A log line as `pipeline logs` prints it: time of day to the millisecond, job › step, text. */
const LINE = (job: string, step: string, text: string, mark = " ") =>
  new RegExp(
    `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ${job} › ${step} *${mark === " " ? " " : ` \\${mark} `}${text}$`,
    "m",
  );

/** Waits for a background CLI to exit by itself (SIGCONT changes nothing for a running one). */
function exitOf(cli: BackgroundCli): Promise<number | null> {
  return cli.stop("SIGCONT");
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** A git repository with these files committed on main. */
function gitRepo(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Alice", "-c", "user.email=alice@example.com", ...args], {
      cwd: dir,
    });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "initial");
}

/** Whether a process is gone (a zombie nobody reaped counts as gone: it runs nothing). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

describe("slipway pipeline run --local", () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-cli-local-"));
  const repo = join(root, "repo");
  /** The CLI's temp dir: the throwaway store must be gone from it after every run. */
  const temp = join(root, "tmp");
  const cli = (args: string[], timeoutMs = 30_000) =>
    runCli(args, { cwd: repo, env: { TMPDIR: temp }, timeoutMs });

  beforeAll(() => {
    mkdirSync(temp, { recursive: true });
    gitRepo(repo, {
      ".gitignore": "sleep.pid\n",
      "slipway.yaml": `
project: demo
environments:
  staging: { router: { listen: 127.0.0.1:18999 } }
services:
  web: { route: { path: / }, run: { command: node server.js } }
pipelines:
  checks:
    on: { manual: {} }
    jobs:
      test:
        needs: [lint]
        steps:
          - run: echo running tests
          - { name: unit, run: "echo 'expected 2, got 3' >&2; echo 'at sum.test.js:4'; exit 1" }
      lint: { steps: [ { run: "echo lint ok" } ] }
  build:
    on: { manual: { inputs: { target: { type: choice, options: [web, api], default: web }, fast: { type: boolean } } } }
    jobs:
      package: { needs: [compile], steps: [ { name: package, run: "echo packaging \${{ needs.compile.outputs.version }}" } ] }
      compile:
        outputs: [version]
        steps: [ { name: compile, run: "echo compiling \${{ inputs.target }} fast=\${{ inputs.fast }}; echo version=1.2.3 >> $SLIPWAY_OUTPUT" } ]
  ship:
    on: { manual: {} }
    jobs:
      build: { steps: [ { run: echo built } ] }
      release: { needs: [build], steps: [ { deploy: web, env: staging } ] }
  gated:
    on: { manual: {} }
    jobs:
      ship: { steps: [ { approval: {} }, { run: echo shipped } ] }
  hang:
    on: { manual: {} }
    jobs:
      wait: { steps: [ { name: sleep, run: "sleep 60 & echo $! > sleep.pid; echo started; wait" } ] }
`,
    });
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("fails with exit 1, streaming timestamped lines live and the failing step's lines in the summary", async () => {
    const res = await cli(["pipeline", "run", "checks", "--local"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(1);
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8" }).slice(0, 12);
    expect(res.stdout).toContain(`Running checks locally in ${repo} (main @ ${head}); Ctrl-C cancels.`);
    expect(res.stdout).toMatch(LINE("lint", "echo lint ok", "lint ok"));
    expect(res.stdout).toMatch(LINE("test", "unit", "expected 2, got 3", "!"));
    expect(res.stdout).toMatch(LINE("test", "unit", "failed: exit 1", "»"));
    // needs: lint's lines come before test's, whatever the order in the file.
    expect(res.stdout.indexOf("lint ok")).toBeLessThan(res.stdout.indexOf("running tests"));
    expect(res.stdout).toContain("checks #1  failed");
    expect(res.stdout).toContain("Trigger    local by local:");
    expect(res.stdout).toMatch(/^ {2}test {2}failed/m);
    expect(res.stdout).toContain("reason: step 2 (unit) failed: exit 1");
    expect(res.stdout).toContain("│ expected 2, got 3\n");
    expect(res.stdout).toContain("│ at sum.test.js:4\n");
    expect(res.stdout).toMatch(/✗ checks #1 failed in \S+: test failed$/m);
    expect(readdirSync(temp)).toEqual([]);
  });

  it("passes with exit 0: inputs read per their type, outputs passed along needs", async () => {
    const res = await cli(["pipeline", "run", "build", "--local", "--input", "fast=true"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(LINE("compile", "compile", "compiling web fast=true"));
    expect(res.stdout).toMatch(LINE("package", "package", "packaging 1.2.3"));
    expect(res.stdout).toMatch(/^Inputs {5}(fast=true target=web|target=web fast=true)$/m);
    expect(res.stdout).toContain("compile.version = 1.2.3");
    expect(res.stdout).toMatch(/✓ build #1 passed in \S+$/m);
    expect(readdirSync(temp)).toEqual([]);
  });

  it("refuses inputs the pipeline does not declare or cannot read, and pipelines it does not have", async () => {
    const typo = await cli(["pipeline", "run", "build", "--local", "--input", "targt=api"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("error: pipeline build has no input targt; its inputs are target, fast");
    const choice = await cli(["pipeline", "run", "build", "--local", "--input", "target=db"]);
    expect(choice.code).toBe(1);
    expect(choice.stderr).toContain('"db" is not one of the options: web, api');
    const missing = await cli(["pipeline", "run", "nope", "--local"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: no pipeline "nope" in slipway.yaml');
    expect(missing.stderr).toContain("hint: declared pipelines: checks, build, ship, gated, hang");
  });

  it("warns upfront that deploy steps cannot run locally, and they fail saying why", async () => {
    const res = await cli(["pipeline", "run", "ship", "--local"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(
      "warning: deploy steps cannot run locally (no control plane or node agent) and will fail: release › 1. deploy web to staging",
    );
    expect(res.stdout).toMatch(LINE("build", "echo built", "built"));
    expect(res.stdout).toContain(
      "deploy steps need a Slipway server with its node agent (not available here)",
    );
  });

  it("cancels the run when an approval waits and there is no terminal to ask on", async () => {
    const res = await cli(["pipeline", "run", "gated", "--local"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("warning: approval steps need a terminal to answer");
    expect(res.stderr).toContain(
      "error: ship waits for an approval, which a --local run can only ask for on a terminal; cancelling the run",
    );
    expect(res.stdout).toMatch(/✗ gated #1 cancelled/);
    expect(res.stdout).not.toMatch(LINE("ship", "echo shipped", "shipped"));
  });

  it("Ctrl-C cancels the run, kills its processes, removes the temp store and exits 130", async () => {
    const run = await startCli(["pipeline", "run", "hang", "--local"], {
      cwd: repo,
      env: { TMPDIR: temp },
      ready: (out) => out.includes("started"),
    });
    const pid = Number(readFileSync(join(repo, "sleep.pid"), "utf8"));
    expect(isGone(pid)).toBe(false);
    expect(await run.stop("SIGINT")).toBe(130);
    expect(run.output()).toContain("cancelling the run…");
    expect(run.output()).toMatch(/✗ hang #1 cancelled/);
    expect(isGone(pid)).toBe(true);
    expect(readdirSync(temp)).toEqual([]);
  });
});

describe("slipway pipeline and repo against a running control plane", () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-cli-pipeline-"));
  const repo = join(root, "repo");
  const dataDir = join(repo, ".slipway");
  let server: RunningServer;
  let port: number;
  let bobToken: string;
  const cli = (args: string[], timeoutMs = 30_000) => runCli(args, { cwd: repo, timeoutMs });
  const start = async () => {
    server = await startServer({
      settings: { listen: { host: "127.0.0.1", port }, dataDir, databaseUrl: undefined, logLevel: "silent" },
      logger: createSilentLogger(),
    });
  };
  /** The run id `pipeline run` printed. */
  const runIdOf = (stdout: string): number => Number(/\(run (\d+)\)/.exec(stdout)?.[1]);

  beforeAll(async () => {
    gitRepo(repo, {
      ".gitignore": ".slipway/\n",
      "slipway.yaml": `
project: demo
pipelines:
  checks:
    on: { manual: { inputs: { fast: { type: boolean, default: false } } } }
    jobs:
      lint: { steps: [ { run: "echo lint ok fast=\${{ inputs.fast }}" } ] }
      test:
        needs: [lint]
        steps:
          - run: echo running tests
          - name: unit
            run: "if [ -f ${root}/fixed ]; then echo all green; else echo 'expected 2, got 3' >&2; exit 1; fi"
  gated:
    on: { manual: {} }
    jobs:
      build: { steps: [ { run: echo built } ] }
      ship: { needs: [build], steps: [ { approval: {} }, { run: echo shipped } ] }
  slow:
    on: { manual: {} }
    jobs:
      long: { steps: [ { name: long, run: "echo first; sleep 0.5; echo second; [ -f ${root}/done ] || sleep 60" } ] }
`,
    });
    port = await findFreePort();
    await start();
    writeClientFile(dataDir, { server: server.url, token: server.adminToken });
    const applied = await cli(["apply", "-y"]);
    expect(applied.code).toBe(0);
    const token = await cli(["token", "create", "bob", "--role", "operator", "--json"]);
    bobToken = (JSON.parse(token.stdout) as { token: string }).token;
  });
  afterAll(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("lists the declared pipelines with their triggers before any run", async () => {
    const res = await cli(["pipeline", "list"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("No runs yet. Declared pipelines:");
    expect(res.stdout).toMatch(/^checks +manual \(inputs fast\) +lint, test +-/m);
    expect(res.stdout).toMatch(/^gated +manual +build, ship/m);
  });

  it("adds the repository: local hook installed, webhook secret once, webhook URLs", async () => {
    const res = await cli(["repo", "add", "."]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^Watching repo \\(\\w+, path\\): ${repo}$`, "m"));
    expect(res.stdout).toMatch(/^Local hook +installed .*post-commit.*: new commits start pipelines$/m);
    expect(res.stdout).toMatch(/^Webhook secret +\S{16,}$/m);
    expect(res.stdout).toMatch(new RegExp(`^ {2}github +${server.url}/hooks/github/\\w+$`, "m"));
    expect(existsSync(join(repo, ".git", "hooks", "post-commit"))).toBe(true);
    const list = await cli(["repo", "list"]);
    expect(list.stdout).toMatch(new RegExp(`^\\w+ +repo +path +${repo} `, "m"));
    expect(list.stdout).not.toContain("secret");
  });

  it("run --wait follows job and step changes to a failure: exit 1, the failing lines in the summary", async () => {
    const res = await cli(["pipeline", "run", "checks", "--input", "fast=true", "--wait"]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^Started checks #1 \(run \d+\)\.$/m);
    expect(res.stdout).toMatch(/^\d\d:\d\d:\d\d {2}lint › 1\. echo lint ok.* {2}succeeded: exit 0$/m);
    expect(res.stdout).toMatch(/^\d\d:\d\d:\d\d {2}test › 2\. unit {2}failed: exit 1$/m);
    expect(res.stdout).toMatch(/^\d\d:\d\d:\d\d {2}test {2}failed: step 2 \(unit\) failed: exit 1$/m);
    expect(res.stdout).toContain("Trigger    manual by token:admin");
    // A boolean input given as text is read as a boolean by the server.
    expect(res.stdout).toContain("Inputs     fast=true");
    expect(res.stdout).toContain("│ expected 2, got 3");
    expect(res.stdout).toMatch(/✗ checks #1 failed in \S+: test failed$/m);
  });

  it("lists runs, shows one, and prints its logs (all, one step, followed to the end)", async () => {
    const list = await cli(["pipeline", "list", "checks"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /^\d+ +#1 +checks +failed +manual token:admin +main @ [0-9a-f]{12} +\S+ \S+ +\S+ +test$/m,
    );

    const show = await cli(["pipeline", "show", "checks#1"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^checks #1 {2}failed {2}\(run \d+\)$/m);
    expect(show.stdout).toMatch(/^Commit {5}main @ [0-9a-f]{12}$/m);
    expect(show.stdout).toMatch(/^ {2}lint {2}succeeded/m);
    expect(show.stdout).toMatch(/^ {6}failed {6}2\. unit {2}exit 1/m);
    expect(show.stdout).toContain("reason: step 2 (unit) failed: exit 1");
    const json = JSON.parse((await cli(["pipeline", "show", "checks#1", "--json"])).stdout);
    expect(json.state.jobs.map((j: { name: string; status: string }) => `${j.name}:${j.status}`)).toEqual([
      "lint:succeeded",
      "test:failed",
    ]);

    const id = json.id as number;
    const all = await cli(["pipeline", "logs", String(id)]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} lint › echo lint ok fast=\$\{\{ i… +lint ok fast=true$/m,
    );
    expect(all.stdout).toMatch(LINE("test", "unit", "expected 2, got 3", "!"));
    const step = await cli(["pipeline", "logs", String(id), "--job", "test", "--step", "2"]);
    expect(step.stdout).toContain("expected 2, got 3");
    expect(step.stdout).not.toContain("running tests");
    const followed = await cli(["pipeline", "logs", String(id), "-f"]);
    expect(followed.code).toBe(1);
    expect(count(followed.stdout, "expected 2, got 3")).toBe(1);
    expect(followed.stdout).toMatch(/✗ checks #1 failed/);
  }, 60_000);

  it("rerun --failed keeps what succeeded and runs the rest", async () => {
    writeFileSync(join(root, "fixed"), "");
    const res = await cli(["pipeline", "rerun", "checks#1", "--failed", "--wait", "--logs"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^Started checks #2 \(run \d+\), rerunning the failed jobs of run \d+ \(kept: lint\)\.$/m,
    );
    expect(res.stdout).toMatch(LINE("test", "unit", "all green"));
    expect(res.stdout).not.toMatch(/^\S+ lint › /m);
    expect(res.stdout).toContain("(kept from run");
    expect(res.stdout).toMatch(/✓ checks #2 passed/);
  });

  it("approval: refused to the person who started the run, given by another token", async () => {
    const started = await cli(["pipeline", "run", "gated"]);
    expect(started.code).toBe(0);
    const id = runIdOf(started.stdout);
    expect(started.stdout).toContain(`Follow it with \`slipway pipeline logs ${id} -f\`.`);
    await waitFor(async () => (await server.store.pipelines.getRun(id)).status === "waiting", {
      what: `run ${id} to wait for its approval`,
      intervalMs: 50,
    });
    const shown = (await cli(["pipeline", "show", String(id)])).stdout;
    expect(shown).toMatch(
      new RegExp(
        `waiting for 1 approval \\(0 given, until \\S+ \\S+\\): slipway pipeline approve ${id} --job ship`,
      ),
    );
    const self = await cli(["pipeline", "approve", String(id)]);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain(
      `error: cannot approve run ${id}: admin started this run and may not approve it`,
    );
    const bob = await cli(["pipeline", "approve", String(id), "--token", bobToken]);
    expect(bob.stderr).toBe("");
    expect(bob.code).toBe(0);
    expect(bob.stdout).toContain(`Approved ship of gated #1 (run ${id}); approvals: bob. ship goes on.`);
    const logs = await cli(["pipeline", "logs", String(id), "-f"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(LINE("ship", "echo shipped", "shipped"));
    expect(logs.stdout).toMatch(/✓ gated #1 passed/);
    const show = await cli(["pipeline", "show", String(id)]);
    expect(show.stdout).toMatch(/^Approved {3}bob \(ship\)$/m);
  }, 60_000);

  it("cancel stops a running run; a second cancel is a conflict", async () => {
    const started = await cli(["pipeline", "run", "slow"]);
    const id = runIdOf(started.stdout);
    const follow = await startCli(["pipeline", "logs", String(id), "-f"], {
      cwd: repo,
      ready: (out) => out.includes("second"),
    });
    const cancel = await cli(["pipeline", "cancel", String(id)]);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`slow #1 (run ${id}) is cancelled.`);
    expect(await exitOf(follow)).toBe(1);
    expect(follow.output()).toMatch(/✗ slow #1 cancelled/);
    const again = await cli(["pipeline", "cancel", String(id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `error: cannot cancel run ${id}: run slow #1 is cancelled; nothing to cancel`,
    );
  }, 60_000);

  it("logs -f survives a control-plane restart without repeating a line; resume runs the interrupted job", async () => {
    const started = await cli(["pipeline", "run", "slow"]);
    const id = runIdOf(started.stdout);
    const follow = await startCli(["pipeline", "logs", String(id), "-f"], {
      cwd: repo,
      ready: (out) => out.includes("second"),
    });
    await server.stop();
    await start();
    expect(await exitOf(follow)).toBe(1);
    const out = follow.output();
    expect(out).toContain("connection lost; reconnecting…");
    expect(count(out, " first\n")).toBe(1);
    expect(count(out, " second\n")).toBe(1);
    expect(out).toMatch(/✗ slow #2 interrupted/);

    writeFileSync(join(root, "done"), "");
    const resumed = await cli(["pipeline", "resume", String(id), "--wait"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`Resumed slow #2 (run ${id}): queued.`);
    expect(resumed.stdout).toMatch(/✓ slow #2 passed/);
    const again = await cli(["pipeline", "resume", String(id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("only an interrupted run can be resumed");
  }, 60_000);

  it("removes the repository", async () => {
    const res = await cli(["repo", "remove", "repo"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Stopped watching repo (${repo}); its git hooks were removed.`);
    expect((await cli(["repo", "list"])).stdout).toContain("No repositories are watched.");
  });
});

describe("pipeline CLI pieces", () => {
  it("skips lines a resumed stream repeats, per step attempt", () => {
    const seen = new SeenLines();
    const line = (step: number, attempt: number, seq: number) => ({ job: "a", step, attempt, seq });
    expect(
      [line(0, 1, 1), line(0, 1, 2), line(0, 1, 1), line(0, 2, 1), line(1, 1, 1), line(0, 1, 3)].map((l) =>
        seen.add(l),
      ),
    ).toEqual([true, true, false, true, true, true]);
  });

  it("approves a local run as stand-ins, never as the person running it unless allowed", () => {
    const waiting = { step: 0, since: "", until: null, count: 2, approvers: null, allowSelfApproval: false };
    expect(standInApprovers(waiting, "local:alice", 0)).toEqual(["local:approver", "local:approver-2"]);
    expect(standInApprovers({ ...waiting, count: 1, approvers: ["alice", "bob"] }, "local:alice", 0)).toEqual(
      ["local:bob"],
    );
    expect(
      standInApprovers(
        { ...waiting, count: 1, approvers: ["alice"], allowSelfApproval: true },
        "local:alice",
        0,
      ),
    ).toEqual(["local:alice"]);
    expect(standInApprovers({ ...waiting, approvers: ["alice", "bob"] }, "local:alice", 0)).toBe(
      "the approval needs 2 of alice, bob, other than alice",
    );
  });
});
