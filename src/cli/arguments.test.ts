/**
 * Every flag and argument that takes a URL, a number, a role, a level, an address, a file or an id is
 * checked before use: a bad value gets one line naming the flag, what was expected and what was found,
 * exit code 64 (EX_USAGE), never "this is a bug in slipway", and no request reaches the server.
 * The built CLI runs as a real child process against a real HTTP server on loopback that counts what
 * it receives.
 */
import { createServer, type Server } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";

const EXIT_USAGE = 64;

interface Case {
  args: string[];
  env?: Record<string, string>;
  /** What stderr must say: the flag or variable, what was expected, what was found. */
  says: RegExp[];
}

/** `SERVER` in args is replaced by the counting server's URL. */
const CASES: Record<string, Case> = {
  "--server that is not a URL, before the verb": {
    args: ["--server", "not-a-url", "status"],
    says: [
      /'--server <url>'/,
      /expected an http:\/\/ or https:\/\/ URL/,
      /found "not-a-url", which is not a URL/,
    ],
  },
  "--server that is not a URL, after the verb": {
    args: ["status", "--server", "not-a-url"],
    says: [/'--server <url>'/, /found "not-a-url"/],
  },
  "--server with another scheme": {
    args: ["status", "--server", "ftp://127.0.0.1:21"],
    says: [/'--server <url>'/, /which has scheme ftp:/],
  },
  "--server with no host": {
    args: ["events", "--server", "http://"],
    says: [/'--server <url>'/, /not a URL/],
  },
  "--server with a path that would be dropped": {
    args: ["status", "--server", "http://127.0.0.1:1/slipway"],
    says: [/'--server <url>'/, /has a path/],
  },
  "--server with credentials in it": {
    args: ["status", "--server", "http://admin:pw@127.0.0.1:1"],
    says: [/'--server <url>'/, /carries credentials/],
  },
  SLIPWAY_SERVER: {
    args: ["status"],
    env: { SLIPWAY_SERVER: "localhost:7070" },
    says: [/^error: SLIPWAY_SERVER: expected an http:\/\/ or https:\/\/ URL/m, /found "localhost:7070"/],
  },
  "--token with a line break": {
    args: ["status", "--server", "SERVER", "--token", "slw_abc\ndef"],
    says: [/^error: --token: expected an API token/m, /a space or a line break/],
  },
  "SLIPWAY_TOKEN with a non-ASCII character": {
    args: ["status", "--server", "SERVER"],
    env: { SLIPWAY_TOKEN: "slw_tökén" },
    says: [/^error: SLIPWAY_TOKEN: expected an API token/m, /not printable ASCII/],
  },
  "--data-dir that is a file": {
    args: ["status", "--data-dir", "FILE"],
    says: [/'--data-dir <dir>'/, /expected a directory, not a file/],
  },
  SLIPWAY_DATA_DIR: {
    args: ["status", "--server", "SERVER"],
    env: { SLIPWAY_DATA_DIR: "FILE" },
    says: [/^error: SLIPWAY_DATA_DIR: expected a directory, not a file/m],
  },
  "-n 0": {
    args: ["config", "history", "-n", "0", "--server", "SERVER"],
    says: [/'-n, --limit <n>'/, /expected a whole number from 1 to 1000; found "0"/],
  },
  "-n that is not a number": {
    args: ["events", "-n", "ten", "--server", "SERVER"],
    says: [/'-n, --limit <n>'/, /found "ten"/],
  },
  "-n of pipeline list over the maximum": {
    args: ["pipeline", "list", "-n", "1001", "--server", "SERVER"],
    says: [/'-n, --limit <n>'/, /found "1001"/],
  },
  "rollout status -n negative": {
    args: ["rollout", "status", "web", "-e", "prod", "-n", "-1", "--server", "SERVER"],
    says: [/'-n, --verdicts <n>'/, /found "-1"/],
  },
  "logs -n with an exponent": {
    args: ["logs", "web", "-e", "prod", "-n", "1e3", "--server", "SERVER"],
    says: [/'-n, --tail <n>'/, /expected a whole number from 1 to 10000; found "1e3"/],
  },
  "config show with a revision that is not a number": {
    args: ["config", "show", "HEAD", "--server", "SERVER"],
    says: [/argument 'revision'/, /expected a revision number from 1/, /found "HEAD"/],
  },
  "pipeline show with a run that is neither an id nor NAME#N": {
    args: ["pipeline", "show", "ci-3", "--server", "SERVER"],
    says: [/argument 'run'/, /expected a run id \(1, 2, …\) or PIPELINE#NUMBER/, /found "ci-3"/],
  },
  "pipeline approve run 0": {
    args: ["pipeline", "approve", "0", "--server", "SERVER"],
    says: [/argument 'run'/, /found "0"/],
  },
  "pipeline logs --step 0": {
    args: ["pipeline", "logs", "1", "-j", "test", "--step", "0", "--server", "SERVER"],
    says: [/'--step <n>'/, /expected a step number from 1 to 1000; found "0"/],
  },
  "pipeline logs --step without --job": {
    args: ["pipeline", "logs", "1", "--step", "2", "--server", "SERVER"],
    says: [/^error: --step needs --job/m],
  },
  "pipeline list -s with an unknown status": {
    args: ["pipeline", "list", "-s", "failed,broken", "--server", "SERVER"],
    says: [
      /'-s, --status <statuses>'/,
      /expected a comma-separated list of queued, running/,
      /found "broken"/,
    ],
  },
  "pipeline run --sha that is not a commit id": {
    args: ["pipeline", "run", "ci", "--sha", "main~1", "--server", "SERVER"],
    says: [/'--sha <sha>'/, /expected a commit id: 7 to 64 hex digits; found "main~1"/],
  },
  "pipeline run -i without a value": {
    args: ["pipeline", "run", "ci", "-i", "fast", "--server", "SERVER"],
    says: [/'-i, --input <key=value>'/, /expected NAME=VALUE; found "fast"/],
  },
  "token create --role that does not exist": {
    args: ["token", "create", "bob", "--role", "root", "--server", "SERVER"],
    says: [/'--role <role>'/, /expected one of admin, operator, viewer; found "root"/],
  },
  "token revoke with something that is not a token id": {
    args: ["token", "revoke", "bob", "--server", "SERVER"],
    says: [/argument 'id'/, /expected a token id/, /found "bob"/],
  },
  "events -t with empty prefixes": {
    args: ["events", "-t", "config.,,", "--server", "SERVER"],
    says: [/'-t, --type <prefixes>'/, /found "config.,,"/],
  },
  "repo add --secret too short (and not echoed)": {
    args: ["repo", "add", ".", "--secret", "hunter2", "--server", "SERVER"],
    says: [/^error: --secret: expected a webhook secret of 16 to 256 characters; it has 7$/m],
  },
  "plan -o in a directory that does not exist": {
    args: ["plan", "-o", "no/such/dir/plan.json", "--server", "SERVER"],
    says: [/'-o, --out <planfile>'/, /expected a file path in a directory that exists/],
  },
  "server --listen without a port": {
    args: ["server", "--listen", "127.0.0.1"],
    says: [/'--listen <host:port>'/, /expected HOST:PORT such as 127.0.0.1:7070/, /found "127.0.0.1"/],
  },
  "up --listen with a port out of range": {
    args: ["up", "--listen", "127.0.0.1:70000"],
    says: [/'--listen <host:port>'/, /found "127.0.0.1:70000"/],
  },
  "server --database-url that is not PostgreSQL": {
    args: ["server", "--database-url", "mysql://db/slipway"],
    says: [/'--database-url <url>'/, /expected a postgres:\/\/ URL/, /found "mysql:\/\/db\/slipway"/],
  },
  "server --log-level unknown": {
    args: ["server", "--log-level", "loud"],
    says: [
      /'--log-level <level>'/,
      /expected one of fatal, error, warn, info, debug, trace, silent; found "loud"/,
    ],
  },
  "agent --log-level unknown": {
    args: ["agent", "--log-level", "verbose"],
    says: [/'--log-level <level>'/, /found "verbose"/],
  },
  "init --project with characters a project name cannot have": {
    args: ["init", "new", "--project", "My Shop"],
    says: [/^error: --project: expected a project name/m, /found "My Shop"/],
  },
  "logs of a service name the config could never declare": {
    args: ["logs", "Web App", "-e", "prod", "--server", "SERVER"],
    says: [
      /argument 'service'/,
      /expected a service name: lowercase letters, digits and "-"/,
      /found "Web App"/,
    ],
  },
  "rollout promote -e empty": {
    args: ["rollout", "promote", "web", "-e", "", "--server", "SERVER"],
    says: [/'-e, --env <env>'/, /expected an environment name/, /found ""/],
  },
  "rollback to an environment with a slash": {
    args: ["rollback", "web", "-e", "prod/eu", "--server", "SERVER"],
    says: [/'-e, --env <env>'/, /found "prod\/eu"/],
  },
  "releases -e with uppercase": {
    args: ["releases", "web", "-e", "PROD", "--server", "SERVER"],
    says: [/'-e, --env <env>'/, /found "PROD"/],
  },
  "pipeline run of a name that is not a pipeline name": {
    args: ["pipeline", "run", "../ci", "--server", "SERVER"],
    says: [/argument 'name'/, /expected a pipeline name/, /found "..\/ci"/],
  },
  "pipeline approve -j with a space": {
    args: ["pipeline", "approve", "3", "-j", "ship it", "--server", "SERVER"],
    says: [/'-j, --job <job>'/, /expected a job name/, /found "ship it"/],
  },
  "token create with a name the API refuses": {
    args: ["token", "create", "Alice Smith", "--server", "SERVER"],
    says: [/argument 'name'/, /expected a lowercase token name/, /found "Alice Smith"/],
  },
  "repo add --name that is not a label": {
    args: ["repo", "add", ".", "--name", "My Repo", "--server", "SERVER"],
    says: [/'--name <name>'/, /expected a repository name/, /found "My Repo"/],
  },
  "an unknown option": { args: ["status", "--colour"], says: [/unknown option '--colour'/] },
  "a missing required option": {
    args: ["rollout", "status", "web", "--server", "SERVER"],
    says: [/required option '-e, --env <env>' not specified/],
  },
};

describe("bad CLI arguments (built CLI, real loopback server)", () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-cli-args-"));
  const cwd = join(root, "work");
  const file = join(root, "a-file");
  let server: Server;
  let url = "";
  const received: string[] = [];

  beforeAll(async () => {
    mkdirSync(cwd);
    writeFileSync(file, "not a directory\n");
    writeFileSync(join(cwd, "slipway.yaml"), "project: demo\n");
    server = createServer((request, response) => {
      received.push(`${request.method ?? ""} ${request.url ?? ""}`);
      response.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  const fill = (text: string) => text.replace("SERVER", url).replace("FILE", file);

  // Concurrently: each case is a process start, and none of them may send anything, so the server's
  // count stays at zero whichever case runs when.
  it.concurrent.for(Object.entries(CASES))(
    "%s: exit 64, a clear message, nothing sent",
    { timeout: 60_000 },
    async ([, c], { expect }) => {
      const env = Object.fromEntries(Object.entries(c.env ?? {}).map(([k, v]) => [k, fill(v)]));
      const result = await runCli(c.args.map(fill), { cwd, env, timeoutMs: 50_000 });
      expect(result.stdout).toBe("");
      for (const says of c.says) expect(result.stderr).toMatch(says);
      expect(result.stderr).not.toContain("this is a bug");
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(result.code).toBe(EXIT_USAGE);
      expect(received).toEqual([]);
      // Nothing was started or created: no data directory, no project files.
      expect(existsSync(join(cwd, ".slipway"))).toBe(false);
      expect(existsSync(join(cwd, "new"))).toBe(false);
    },
  );

  it("never echoes a bad token", async () => {
    const result = await runCli(["status", "--server", url, "--token", "slw_SECRET part"], { cwd });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).not.toContain("SECRET");
  });

  it("a bad server URL in the client file names the file", async () => {
    const dataDir = join(root, "state");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "client.json"), JSON.stringify({ server: "127.0.0.1:7070" }));
    const result = await runCli(["status", "--data-dir", dataDir], { cwd });
    expect(result.stderr).toContain(`error: server in ${join(dataDir, "client.json")}: expected an http://`);
    expect(result.code).toBe(EXIT_USAGE);
  });

  it("a server that answers something other than JSON is a wrong URL, not a bug", async () => {
    const html = createServer((_, response) => response.writeHead(200).end("<html>hello</html>"));
    await new Promise<void>((resolve) => html.listen(0, "127.0.0.1", resolve));
    const address = html.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const result = await runCli(["status", "--server", `http://127.0.0.1:${port}`], { cwd });
    await new Promise((resolve) => html.close(resolve));
    expect(result.stderr).toContain("answered 200 with something that is not JSON");
    expect(result.stderr).not.toContain("this is a bug");
    expect(result.code).toBe(1);
  });

  it("--help and --version still exit 0", async () => {
    expect((await runCli(["--help"], { cwd })).code).toBe(0);
    expect((await runCli(["pipeline", "run", "--help"], { cwd })).code).toBe(0);
    expect((await runCli(["--version"], { cwd })).code).toBe(0);
  });
});
