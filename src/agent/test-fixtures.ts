/**
 * Test support for the agent's tests: the built agent as a real child process, a tiny HTTP app for
 * instances, raw requests over the socket, and cleanup that kills every process group a test saw.
 * (Excluded from the build like the runtime's fixtures.)
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "undici";
import { readPidFiles } from "../runtime/index.js";
import { agentPaths } from "./files.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = join(ROOT, "dist/agent/main.js");

/**
 * Builds when dist/agent is missing or older than src/agent. Not unconditionally: other test files
 * spawn dist/ concurrently, and tsc rewriting a file under them would make them flaky.
 */
export function ensureBuilt(): void {
  const built = statSync(MAIN, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = readdirSync(join(ROOT, "src/agent")).filter(
    (f) => f.endsWith(".ts") && !f.includes("test"),
  );
  const newest = Math.max(...sources.map((f) => statSync(join(ROOT, "src/agent", f)).mtimeMs));
  if (built >= newest) return;
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
}

/** Answers `<instance id> <pid>` on every path; exits 0 on SIGTERM. */
const APP = `
import { createServer } from "node:http";
const server = createServer((req, res) => res.end(process.env.SLIPWAY_INSTANCE + " " + process.pid));
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
`;

export interface RunningAgent {
  child: ChildProcess;
  socketPath: string;
  token: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export class TestWorld {
  readonly root = mkdtempSync(join(tmpdir(), "slipway-agent-test-"));
  readonly dataDir = join(this.root, "data");
  readonly appDir = join(this.root, "app");
  readonly instancePids = new Set<number>();
  readonly #agents: RunningAgent[] = [];

  constructor() {
    writeAppDir(this.appDir);
  }

  /** Spawns the agent in its own process group; resolves once it listens (or rejects if it exits). */
  async startAgent(args: string[] = []): Promise<RunningAgent> {
    const child = spawn(process.execPath, [MAIN, "--data-dir", this.dataDir, ...args], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => {
        resolve({ code, signal });
      }),
    );
    const paths = agentPaths(this.dataDir);
    const agent: RunningAgent = { child, socketPath: paths.socket, token: "", exited, stderr: () => err };
    this.#agents.push(agent);
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("listening")) resolve();
      });
      void exited.then(({ code }) => {
        reject(new Error(`agent exited with ${code}: ${err}`));
      });
    });
    agent.token = readFileSync(paths.token, "utf8").trim();
    return agent;
  }

  /** Kills every agent and instance group this test saw, then removes the temp dir. */
  async cleanup(): Promise<void> {
    for (const agent of this.#agents) killGroup(agent.child.pid);
    const records = await readPidFiles(join(this.dataDir, "agent", "instances"));
    for (const record of records) this.instancePids.add(record.pid);
    for (const pid of this.instancePids) killGroup(pid);
    await Promise.all(this.#agents.map((a) => a.exited));
    rmSync(this.root, { recursive: true, force: true });
  }
}

function writeAppDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "app.mjs"), APP);
}

export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Alive and not a zombie (a zombie holds nothing; PID 1 may be slow to reap it in a sandbox). */
export function isProcessAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** A parsed JSON answer; problems carry `code`. */
export type RawBody = { code?: string; status?: number } & Record<string, unknown>;

/** A request over the socket that returns the status and parsed body, for asserting exact codes. */
export async function rawRequest(
  socketPath: string,
  method: "GET" | "PUT" | "POST" | "DELETE",
  path: string,
  options: { token?: string; body?: string } = {},
): Promise<{ status: number; body: RawBody }> {
  const client = new Client("http://agent", { socketPath });
  try {
    const response = await client.request({
      method,
      path,
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: options.body,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: (text === "" ? {} : JSON.parse(text)) as RawBody };
  } finally {
    await client.close();
  }
}
