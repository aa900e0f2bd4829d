import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentClient } from "../agent/index.js";
import { CLI, readJson, readableBy, runCli, startCli, type BackgroundCli } from "../test-support/cli.js";
import { storeBackends } from "../test-support/stores.js";
import { waitFor } from "../test-support/wait-for.js";
import { findFreePort } from "../util/index.js";

function stopAgentOf(dataDir: string): void {
  try {
    process.kill(Number(readFileSync(join(dataDir, "agent", "agent.pid"), "utf8")), "SIGKILL");
  } catch {
    // Not running.
  }
}

const EXAMPLE = fileURLToPath(new URL("../../examples/shop/slipway.yaml", import.meta.url));

interface ClientFile {
  server: string;
  token: string;
}

describe.each(storeBackends())(
  "slipway up, plan, apply, status, config, token, events on $name",
  (backend) => {
    let dir: string;
    let up: BackgroundCli;
    let client: ClientFile;
    /** Unset for SQLite (the embedded default under .slipway/); a fresh database for PostgreSQL. */
    let env: Record<string, string | undefined> = {};
    const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
    const edit = (from: string, to: string) => {
      const path = join(dir, "slipway.yaml");
      writeFileSync(path, readFileSync(path, "utf8").replace(from, to));
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "slipway-cli-"));
      // The example's router ports, moved to free ones: other test files run at the same time.
      const [production, staging] = [await findFreePort(), await findFreePort()];
      writeFileSync(
        join(dir, "slipway.yaml"),
        readFileSync(EXAMPLE, "utf8").replace(":8080", `:${production}`).replace(":8081", `:${staging}`),
      );
      const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: dir });
      git("init", "-q");
      git("add", "slipway.yaml");
      git("commit", "-q", "-m", "config");
      env = { SLIPWAY_DATABASE_URL: (await backend.prepare()).databaseUrl };
      up = await startCli(["up", "--listen", "127.0.0.1:0"], {
        cwd: dir,
        env,
        ready: (out) => out.includes("Try:"),
      });
      client = readJson(join(dir, ".slipway", "client.json")) as ClientFile;
    });
    afterAll(async () => {
      await up.stop("SIGKILL");
      // SIGKILL leaves the detached agent running, as it should in production; here it must go.
      stopAgentOf(join(dir, ".slipway"));
      rmSync(dir, { recursive: true, force: true });
    });

    it("starts, prints the URL and a one-time admin token, and applies slipway.yaml", () => {
      const out = up.output();
      expect(out).toContain(client.server);
      expect(out).toContain(client.token);
      expect(out).toMatch(/Plan: 5 to add, 0 to change, 0 to delete\./);
      expect(out).toContain("Applied slipway.yaml as revision 1.");
      expect(statSync(join(dir, ".slipway", "client.json")).mode & 0o777).toBe(0o600);
    });

    it("shows status as a table and as JSON, with the git commit of the applied file", async () => {
      const text = await cli("status");
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/SERVICE\s+ROUTE\s+INSTANCES\s+STRATEGY/);
      expect(text.stdout).toMatch(/web\s+\/\s+2\s+canary/);
      const json = JSON.parse((await cli("status", "--json")).stdout);
      const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir }).toString().trim();
      expect(json).toMatchObject({ project: "shop", revision: 1, lastApplied: { gitCommit: head } });
    });

    it("records no commit for a file with uncommitted changes", async () => {
      edit("instances: 2", "instances: 7");
      expect((await cli("apply", "--yes")).code).toBe(0);
      const json = JSON.parse((await cli("status", "--json")).stdout);
      expect(json.lastApplied.gitCommit).toBeNull();
      edit("instances: 7", "instances: 2");
      expect((await cli("apply", "--yes")).code).toBe(0);
    });

    it("plan exits 0 with no changes and 2 with changes, field by field", async () => {
      const same = await cli("plan", "--detailed-exitcode");
      expect(same.code).toBe(0);
      expect(same.stdout).toContain("No changes");
      edit("instances: 2", "instances: 3");
      const changed = await cli("plan", "--detailed-exitcode");
      expect(changed.code).toBe(2);
      expect(changed.stdout).toContain("~ service web");
      expect(changed.stdout).toMatch(/run\.instances: 2 → 3/);
      expect(changed.stdout).toContain("Plan: 0 to add, 1 to change, 0 to delete.");
    });

    it("applies a saved plan, and refuses it once the config has moved on", async () => {
      expect((await cli("plan", "--out", "a.plan")).code).toBe(0);
      expect((await cli("plan", "--out", "b.plan")).code).toBe(0);
      const first = await cli("apply", "a.plan");
      expect(first.code).toBe(0);
      expect(first.stdout).toContain("Apply complete: revision 4");
      const stale = await cli("apply", "b.plan");
      expect(stale.code).toBe(1);
      expect(stale.stderr).toContain("stale plan");
      expect(stale.stderr).toContain("hint:");
      expect((await cli("plan", "--detailed-exitcode")).code).toBe(0);
    });

    it("lists and shows revisions", async () => {
      const history = JSON.parse((await cli("config", "history", "--json")).stdout);
      expect(history.map((r: { revision: number }) => r.revision)).toEqual([4, 3, 2, 1]);
      const shown = await cli("config", "show", "1");
      expect(shown.stdout).toContain("instances: 2");
      const absent = await cli("config", "show", "99");
      expect(absent.code).toBe(1);
      expect(absent.stderr).toContain("error:");
      // A bad argument is a usage error: EX_USAGE, never sent (src/cli/arguments.test.ts has them all).
      const bad = await cli("config", "show", "x");
      expect(bad.code).toBe(64);
      const badLimit = await cli("config", "history", "-n", "0");
      expect(badLimit.code).toBe(64);
      expect(badLimit.stderr).toContain("expected a whole number from 1 to 1000");
    });

    it("creates, uses, lists and revokes tokens; a viewer cannot apply", async () => {
      const created = JSON.parse((await cli("token", "create", "dash", "--role", "viewer", "--json")).stdout);
      const viewer = created.token as string;
      expect((await runCli(["status", "--token", viewer], { cwd: dir, env })).code).toBe(0);
      edit("instances: 3", "instances: 4");
      const denied = await runCli(["apply", "--yes"], { cwd: dir, env: { ...env, SLIPWAY_TOKEN: viewer } });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain("operator role");
      const list = await cli("token", "list");
      expect(list.stdout).toContain("dash");
      expect(list.stdout).not.toContain(viewer);
      expect((await cli("token", "revoke", created.record.id)).code).toBe(0);
      const after = await runCli(["status", "--token", viewer], { cwd: dir, env });
      expect(after.code).toBe(1);
      expect(after.stderr).toContain("valid bearer token");
      const badRole = await cli("token", "create", "x", "--role", "root");
      expect(badRole.code).toBe(64);
      expect(badRole.stderr).toContain("expected one of admin, operator, viewer");
      edit("instances: 4", "instances: 3");
    });

    it("follows the event log live", async () => {
      const follow = await startCli(["events", "-f", "--json", "--type", "config.applied", "-n", "1"], {
        cwd: dir,
        env,
        ready: (out) => out.includes('"config.applied"'),
      });
      edit("instances: 3", "instances: 5");
      expect((await cli("apply", "--yes")).code).toBe(0);
      await waitFor(() => follow.output().split("config.applied").length >= 3, {
        what: "the second config.applied event in the followed output",
        intervalMs: 50,
      });
      expect(
        follow
          .output()
          .split("\n")
          .filter((l) => l.includes('"config.applied"')).length,
      ).toBe(2);
      expect(await follow.stop("SIGINT")).toBe(0);
    });

    it("says which URL it could not reach", async () => {
      const res = await cli("status", "--server", "http://127.0.0.1:9");
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("cannot reach the Slipway server at http://127.0.0.1:9");
    });

    it("refuses a port already in use with a clear message and exit 1", async () => {
      const port = new URL(client.server).port;
      const res = await runCli(["up", "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "other")], {
        cwd: dir,
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the port is already in use`);
    });

    it("keeps its state where it was told to", async () => {
      const dbFile = join(dir, ".slipway", "slipway.db");
      const status = JSON.parse((await cli("status", "--json")).stdout);
      expect(status.server.store).toBe(backend.name);
      expect(existsSync(dbFile)).toBe(backend.name === "sqlite");
    });

    it("logs JSON lines to .slipway/logs without ever writing a token", () => {
      const log = readFileSync(join(dir, ".slipway", "logs", "slipway.log"), "utf8");
      const lines = log.trim().split("\n");
      expect(lines.length).toBeGreaterThan(3);
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
      expect(log).toContain("slipway control plane listening");
      expect(log).not.toContain(client.token);
      expect(log).not.toContain("slw_");
    });

    it("stops cleanly on SIGTERM and comes back with its state, without a new admin token", async () => {
      expect(await up.stop("SIGTERM")).toBe(0);
      expect(up.output()).toContain("Stopped.");
      up = await startCli(["up", "--listen", "127.0.0.1:0"], {
        cwd: dir,
        env,
        ready: (out) => out.includes("Try:"),
      });
      expect(up.output()).not.toContain("Admin token");
      expect(up.output()).toContain("No changes");
      const status = JSON.parse((await cli("status", "--json")).stdout);
      expect(status.revision).toBe(5);
    });
  },
  // Each test runs several CLI processes, and an apply waits up to 10 s for the controller's next tick
  // (listen-checks.ts): under a full test run on two cores that has gone past the default 30 s.
  { timeout: 90_000 },
);

describe("slipway validate", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "slipway-validate-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, string, RegExp][] = [
    ["malformed YAML", "project: shop\nservices: [\n", /bad\.yaml:\d+:\d+/],
    [
      "a wrong type",
      "project: shop\nenvironments: {}\nservices:\n  web:\n    route: { path: / }\n    run: { command: x, instances: two }\n",
      /bad\.yaml:6:\d+.*services\.web\.run\.instances/,
    ],
    [
      "an unknown key",
      "project: shop\nenvironments: {}\nservices:\n  web:\n    route: { path: / }\n    run: { command: x, replicas: 2 }\n",
      /bad\.yaml:6:\d+.*replicas.*did you mean "instances"/,
    ],
    [
      "a missing key",
      "project: shop\nenvironments: {}\nservices:\n  web:\n    route: { path: / }\n    run: { instances: 2 }\n",
      /bad\.yaml:6:\d+.*services\.web\.run.*command/,
    ],
    [
      "a bad duration",
      "project: shop\nenvironments: {}\nservices:\n  web:\n    route: { path: / }\n    run: { command: x }\n    health:\n      readiness: { http: /h, interval: 5 minutes }\n",
      /bad\.yaml:8:\d+.*interval.*5 minutes/,
    ],
    [
      "duplicate service names",
      "project: shop\nenvironments: {}\nservices:\n  web:\n    route: { path: / }\n    run: { command: x }\n  web:\n    route: { path: /b }\n    run: { command: y }\n",
      /bad\.yaml:7:\d+/,
    ],
  ];

  it.each(cases)("rejects %s with file:line and key, exit 1", async (_name, source, pattern) => {
    writeFileSync(join(dir, "bad.yaml"), source);
    const res = await runCli(["validate", "bad.yaml"], { cwd: dir });
    expect(res.code).toBe(1);
    expect(res.stderr.replace(/\s+/g, " ")).toMatch(pattern);
  });

  it("accepts the example and reports a missing file clearly", async () => {
    const ok = await runCli(["validate", EXAMPLE], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("is valid");
    const missing = await runCli(["validate", "nope.yaml"], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope.yaml");
  });

  it("prints machine-readable issues with --json", async () => {
    writeFileSync(join(dir, "bad.yaml"), "project: Shop!\n");
    const res = await runCli(["validate", "bad.yaml", "--json"], { cwd: dir });
    expect(res.code).toBe(1);
    const out = JSON.parse(res.stdout);
    expect(out.valid).toBe(false);
    expect(out.files[0].issues[0]).toMatchObject({ line: 1, path: "project" });
  });
});

describe("slipway init", () => {
  it("scaffolds a config that validates, and refuses to overwrite it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-init-"));
    try {
      const first = await runCli(["init", "--project", "demo"], { cwd: dir });
      expect(first.code).toBe(0);
      expect((await runCli(["validate"], { cwd: dir })).code).toBe(0);
      expect(readFileSync(join(dir, "web", "server.js"), "utf8")).toContain("/healthz");
      const again = await runCli(["init"], { cwd: dir });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("already exist");
      const badName = await runCli(["init", "--project", "Bad Name", "--force"], { cwd: dir });
      expect(badName.code).toBe(64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("slipway server when the store cannot be written", () => {
  it("exits 1 naming host and port, never the password, when PostgreSQL is unreachable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-pg-"));
    try {
      const res = await runCli(["server", "--listen", "127.0.0.1:0"], {
        cwd: dir,
        env: { SLIPWAY_DATABASE_URL: "postgres://slipway:hunter2@127.0.0.1:9/slipway" },
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("127.0.0.1:9");
      expect(res.stderr).not.toContain("hunter2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 naming the path when the data dir cannot be created", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-ro-"));
    try {
      writeFileSync(join(dir, "file"), "");
      const res = await runCli(
        ["server", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "file", "data")],
        {
          cwd: dir,
        },
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(join(dir, "file"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Root ignores file modes, so the check runs as `nobody`, when nobody can read this checkout.
  const asNobody = readableBy("nobody", CLI);
  it.skipIf(!asNobody)(
    `exits 1 with a clear message when another user owns the data dir${asNobody ? "" : " (skipped: not root, or user nobody cannot read dist/)"}`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "slipway-ro-"));
      chmodSync(dir, 0o755);
      try {
        // The data dir belongs to root (mode 0755); `nobody` may read but not write it.
        const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const args = [
            "-u",
            "nobody",
            "--",
            process.execPath,
            CLI,
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir,
          ];
          const child = spawn("runuser", args, {
            cwd: "/",
            env: { PATH: process.env.PATH, NO_COLOR: "1" },
          });
          let stderr = "";
          child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
          child.on("close", (code: number | null) => {
            clearTimeout(timer);
            resolve({ code, stderr });
          });
        });
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(/cannot|permission|read-only/i);
        expect(res.stderr).toContain(dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("slipway agent", () => {
  it("runs in the foreground, serves its API on the socket, refuses a second copy, and stops on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-agent-"));
    const agent = await startCli(["agent", "--data-dir", join(dir, "data")], {
      cwd: dir,
      ready: (out) => /Slipway agent pid \d+ on/.test(out),
    });
    try {
      const paths = { socketPath: join(dir, "data", "agent", "agent.sock") };
      const token = readFileSync(join(dir, "data", "agent", "agent.token"), "utf8").trim();
      const client = createAgentClient({ ...paths, token });
      const state = await client.state();
      expect(state.environments).toEqual([]);
      await client.close();

      const second = await runCli(["agent", "--data-dir", join(dir, "data")], { cwd: dir });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain("another agent is running");
      expect(await agent.stop("SIGTERM")).toBe(0);
      expect(agent.output()).toContain("Stopped.");
    } finally {
      await agent.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
