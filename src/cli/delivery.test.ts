import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryWorld, startLoad } from "../rollout/test-fixtures.js";
import { runCli, startCli } from "../test-support/cli.js";
import { writeClientFile } from "./client-file.js";

/**
 * The delivery verbs of the built CLI against a real control plane and node agent (in this process,
 * real router, real instances). One world, in order: a first deploy, refusals, a failing canary rolled
 * back under load, the views of it, then a canary held until promote and driven by hand, a rollback.
 */
describe("slipway deploy, rollout, rollback, releases, logs, status against a running world", () => {
  let world: DeliveryWorld;
  let head: string;
  const cli = (args: string[], timeoutMs = 20_000) => runCli(args, { cwd: world.root, timeoutMs });
  const slot = ["--env", "production"];

  beforeAll(async () => {
    world = await new DeliveryWorld().start({
      rollout:
        "{ strategy: canary, steps: [{ weight: 30, pause: until-promote }], " +
        "analysis: { interval: 1s, minSamples: 20, checks: [{ metric: error-rate, max: 1%, vsBaseline: +0.5pp }] } }",
    });
    // Where `slipway up` would leave it: the CLI finds the server and token in the working directory.
    writeClientFile(join(world.root, ".slipway"), {
      server: world.server.url,
      token: world.server.localToken,
    });
    // A git repository whose working tree stays clean (everything else ignored): deploy records HEAD.
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
        cwd: world.root,
      })
        .toString()
        .trim();
    writeFileSync(join(world.root, ".gitignore"), "*\n!.gitignore\n");
    git("init", "-q");
    git("add", ".gitignore");
    git("commit", "-q", "-m", "ignore all");
    head = git("rev-parse", "HEAD");
  });
  afterAll(async () => {
    await world.stop();
  });

  it("deploys a first release with --wait, resolving --artifact against the working directory", async () => {
    world.artifact("v1");
    const res = await cli(
      ["deploy", "web", ...slot, "--version", "v1", "--artifact", "artifacts/v1", "--wait"],
      45_000,
    );
    expect(res.stderr).not.toContain("error");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Created release web v1 \([0-9a-f]{12}, 2 files, /);
    expect(res.stdout).toMatch(/Started rollout \d+: initial of web v1 in production\./);
    expect(res.stdout).toMatch(/succeeded {2}phase done/);
    expect(res.stdout).toContain("✓ web v1 is live in production");
    expect((await world.hit()).body).toBe("v1");
  }, 60_000);

  it("refuses a service that is not declared, naming the ones that are", async () => {
    const res = await cli(["deploy", "shop", ...slot, "--version", "v9", "--artifact", "artifacts/v1"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('error: no service "shop" in the applied config');
    expect(res.stderr).toContain("hint: declared services: web");
  });

  it("refuses an artifact that does not exist, naming the absolute path it looked for", async () => {
    const res = await cli(["deploy", "web", ...slot, "--version", "v9", "--artifact", "no/such/dir"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`error: artifact ${join(world.root, "no/such/dir")} does not exist`);
  });

  it("refuses a blank --artifact as a usage error, and system trees and the data directory by the server", async () => {
    const blank = await cli(["deploy", "web", ...slot, "--version", "v9", "--artifact", ""]);
    expect(blank.code).toBe(64);
    expect(blank.stderr).toContain('expected a directory; found ""');
    const data = await cli(["deploy", "web", ...slot, "--version", "v9", "--artifact", "data"]);
    expect(data.code).toBe(1);
    expect(data.stderr).toContain(`error: artifact ${join(world.root, "data")} is refused: `);
    expect(data.stderr).toContain("Slipway's data directory");
    const proc = await cli(["deploy", "web", ...slot, "--version", "v9", "--artifact", "/proc/self/fdinfo"]);
    expect(proc.code).toBe(1);
    // Resolved before it is judged: /proc/self is this control plane's /proc/<pid>.
    expect(proc.stderr).toMatch(
      /error: artifact \/proc\/self\/fdinfo is refused: \/proc\/\d+\/fdinfo is inside \/proc/,
    );
  });

  it("follows a failing canary under load and exits 3 with the reason and the failing verdict", async () => {
    world.artifact("v2", { failRate: 0.3 });
    const load = startLoad(world.routerUrl, 100);
    try {
      const res = await cli(
        ["deploy", "web", ...slot, "--version", "v2", "--artifact", "artifacts/v2", "--wait"],
        45_000,
      );
      expect(res.code).toBe(3);
      expect(res.stdout).toContain("canary of web v2 in production, replacing v1");
      expect(res.stdout).toMatch(/progressing {2}phase step {2}step 1\/1 {2}weight 30%/);
      expect(res.stdout).toMatch(
        /verdict \d\d:\d\d:\d\d {2}fail +step 1 +error-rate [\d.]+% vs [\d.]+% baseline, limit [\d.]+% \(max 1%, \+0\.5pp\), p = \S+ {2}samples \d+ canary \/ \d+ baseline/,
      );
      expect(res.stdout).toMatch(/✗ rollout \d+ rolled-back: analysis failed at step 1/);
    } finally {
      await load.stop();
    }
    expect((await world.hit()).body).toBe("v1");
  }, 60_000);

  it("shows the latest rollout with its steps and verdicts, as text and as JSON", async () => {
    const json = await cli(["rollout", "status", "web", ...slot, "--json"]);
    expect(json.code).toBe(0);
    const detail = JSON.parse(json.stdout);
    expect(detail).toMatchObject({
      rollout: {
        service: "web",
        env: "production",
        release: "v2",
        previous: "v1",
        strategy: "canary",
        status: "rolled-back",
      },
      live: { service: "web", env: "production", stable: "v1" },
    });
    expect(detail.rollout.reason).toMatch(/^analysis failed at step 1/);
    expect(detail.rollout.state).toMatchObject({
      phase: "done",
      step: 0,
      weight: 0,
      spec: { steps: [{ weight: 30 }] },
    });
    expect(detail.rollout.state.verdicts.fail).toBe(1);
    const failed = detail.verdicts.find((v: { result: string }) => v.result === "fail");
    expect(failed.verdict.checks[0]).toMatchObject({ metric: "error-rate", result: "fail" });
    expect(detail.live.releases[0]).toMatchObject({
      version: "v1",
      role: "stable",
      weight: 100,
      instances: 2,
      ready: 2,
    });

    const text = await cli(["rollout", "status", "web", ...slot]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Status +rolled-back — analysis failed at step 1/);
    expect(text.stdout).toMatch(/Steps +▶ 1\. +30% +until promote +← last/);
    expect(text.stdout).toMatch(/v1 +stable +100% +2\/2 +2 ready/);
    expect(text.stdout).toMatch(/fail +step 1 +error-rate/);
  });

  it("refuses to promote a finished rollout with the conflict and exits 1", async () => {
    const res = await cli(["rollout", "promote", "web", ...slot]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /error: rollout \d+ \(web v2 in production\) is rolled-back: nothing to promote/,
    );
    expect(res.stderr).toContain("hint: start a new one with `slipway deploy`");
  });

  it("lists releases with their state per environment", async () => {
    const text = await cli(["releases", "web"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/VERSION +CREATED +BY +COMMIT +ARTIFACT +SIZE +PRODUCTION/);
    expect(text.stdout).toMatch(/v2 .* [0-9a-f]{12} .* rolled-back/);
    expect(text.stdout).toMatch(/v1 .* [0-9a-f]{12} .* live/);
    expect(text.stdout).toMatch(new RegExp(`^v1 .* ${head.slice(0, 10)} `, "m"));
    const json = JSON.parse((await cli(["releases", "web", "--env", "production", "--json"])).stdout);
    expect(json[1].commit).toBe(head);
    expect(json.map((r: { version: string; environments: unknown }) => [r.version, r.environments])).toEqual([
      ["v2", [{ env: "production", state: "rolled-back" }]],
      ["v1", [{ env: "production", state: "live" }]],
    ]);
  });

  it("prints each instance's last log lines prefixed with its id", async () => {
    const res = await cli(["logs", "web", ...slot, "--tail", "5"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^web\.production\.v1\.1 \S+Z stdout listening on \d+$/m);
    expect(res.stdout).toMatch(/^web\.production\.v1\.2 \S+Z stdout listening on \d+$/m);
    const one = await cli(["logs", "web", ...slot, "--instance", "web.production.v1.2"]);
    expect(one.stdout).not.toContain("web.production.v1.1");
  });

  it("follows logs with -f, printing each line once, until Ctrl-C", async () => {
    const follow = await startCli(["logs", "web", ...slot, "-f"], {
      cwd: world.root,
      ready: (out) => out.includes("web.production.v1.2"),
    });
    // The point of the test: several follow polls pass (2.5 s) and still print each line only once.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await follow.stop("SIGINT")).toBe(0);
    const listening = follow.output().match(/^web\.production\.v1\.1 .*listening on/gm) ?? [];
    expect(listening).toHaveLength(1);
  });

  it("shows in status what runs in each environment and whether the agent answers", async () => {
    const text = await cli(["status"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Agent +reachable/);
    expect(text.stdout).toMatch(/ENVIRONMENT +SERVICE +RELEASE +ROLE +WEIGHT +READY/);
    expect(text.stdout).toMatch(/production +web +v1 +stable +100% +2\/2/);
    const json = JSON.parse((await cli(["status", "--json"])).stdout);
    expect(json.deployments).toMatchObject({ agent: { reachable: true }, environmentErrors: {} });
    expect(json.deployments.slots[0].releases[0]).toMatchObject({ version: "v1", role: "stable", ready: 2 });
  });

  it("stops waiting on Ctrl-C while the rollout goes on, then pause, resume and promote drive it", async () => {
    world.artifact("v3");
    const deploy = await startCli(
      ["deploy", "web", ...slot, "--version", "v3", "--artifact", "artifacts/v3", "--wait"],
      {
        cwd: world.root,
        ready: (out) => out.includes("phase step"),
        timeoutMs: 30_000,
      },
    );
    expect(await deploy.stop("SIGINT")).toBe(130);
    expect(deploy.output()).toMatch(/Stopped waiting; rollout \d+ goes on \(progressing\)/);

    const paused = await cli(["rollout", "pause", "web", ...slot]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/Rollout \d+ \(web v3 in production\) is paused: paused by /);
    expect((await cli(["rollout", "pause", "web", ...slot])).stderr).toContain(
      "is paused: it is paused already",
    );
    const resumed = await cli(["rollout", "resume", "web", ...slot]);
    expect(resumed.stdout).toMatch(/is progressing again/);
    const promoted = await cli(["rollout", "promote", "web", ...slot, "--full"]);
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toContain("full promotion requested");
    const status = JSON.parse((await cli(["rollout", "status", "web", ...slot, "--json"])).stdout);
    await world.waitFor(status.rollout.id, ["succeeded"]);
    expect((await world.hit()).body).toBe("v3");
  }, 60_000);

  it("rolls back with --wait and exits 0 when the previous release is live again", async () => {
    const res = await cli(["rollback", "web", ...slot, "--wait"], 45_000);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Started rollout \d+: rollback of web from v3 to v1 in production\./);
    expect(res.stdout).toContain("✓ web v1 is live in production");
    expect((await world.hit()).body).toBe("v1");
  }, 60_000);
});
