/**
 * Test support for the runtime's tests: a small real app written to a temp dir, a supervisor around it,
 * and cleanup that kills every process group a test ever saw, so nothing outlives the run.
 * (Kept beside the tests rather than in src/test-support because it knows the runtime's internals.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { groupMembers } from "./process-group.js";
import { createSupervisor } from "./supervisor.js";
import type { InstanceSpec, InstanceStatus, Supervisor, SupervisorOptions } from "./types.js";

/**
 * The app: listens on $PORT. /healthz answers 503 while the file `health` says "fail", /live answers 500
 * while `live` says "fail" (and touches `live-passed` when it passes), /env shows its env. On SIGTERM it writes `terminated` and exits 0, unless
 * IGNORE_TERM is set. LOG_LINES prints that many lines at start; CRASH_AFTER_MS makes it exit 2.
 */
const APP = `
import { createServer } from "node:http";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
const flag = (name) => existsSync(name) && readFileSync(name, "utf8").trim() === "fail";
const port = Number(process.env.PORT);
const server = createServer((req, res) => {
  if (req.url === "/env") return res.end(JSON.stringify(process.env));
  if (req.url === "/healthz") res.statusCode = flag("health") ? 503 : 200;
  if (req.url === "/live") res.statusCode = flag("live") ? 500 : 200;
  if (req.url === "/live" && res.statusCode === 200) writeFileSync("live-passed", "");
  if (req.url === "/hello") console.log("hello from", process.pid);
  res.end("ok");
});
server.listen(port, "127.0.0.1", () => console.log("listening on " + port));
for (let i = 0; i < Number(process.env.LOG_LINES ?? 0); i++) console.log("filler line " + i + " " + "x".repeat(40));
console.error("an error line");
process.on("SIGTERM", () => {
  if (process.env.IGNORE_TERM) return console.log("ignoring SIGTERM");
  console.log("got SIGTERM, shutting down");
  writeFileSync("terminated", String(process.pid));
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
if (process.env.CRASH_AFTER_MS) setTimeout(() => { console.error("crashing now"); process.exit(2); }, Number(process.env.CRASH_AFTER_MS));
`;

export const NODE = JSON.stringify(process.execPath);
export const APP_COMMAND = `${NODE} app.mjs`;

export interface TestRuntime {
  dir: string;
  logDir: string;
  supervisor: Supervisor;
  /** Every status the supervisor emitted, in order. */
  events: InstanceStatus[];
  spec(overrides?: Partial<InstanceSpec>): InstanceSpec;
  /** Kills every group seen (SIGKILL), shuts the supervisor down, removes the temp dir. */
  cleanup(): Promise<void>;
}

let counter = 0;

export function createTestRuntime(options: Partial<SupervisorOptions> = {}): TestRuntime {
  const dir = mkdtempSync(join(tmpdir(), "slipway-runtime-"));
  const logDir = join(dir, "logs");
  writeFileSync(join(dir, "app.mjs"), APP);
  const supervisor = createSupervisor({ logDir, ...options });
  const events: InstanceStatus[] = [];
  const groups = new Set<number>();
  supervisor.on("state", (status) => {
    events.push(status);
    if (status.pid !== undefined) groups.add(status.pid);
  });
  return {
    dir,
    logDir,
    supervisor,
    events,
    spec: (overrides = {}) => ({
      id: `app-${process.pid}-${++counter}`,
      service: "web",
      env: "test",
      release: "v1",
      command: APP_COMMAND,
      cwd: dir,
      envVars: {},
      stopTimeoutMs: 5_000,
      ...overrides,
    }),
    async cleanup() {
      for (const pgid of groups) killGroup(pgid);
      await supervisor.shutdown({ stopInstances: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Present and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Live members of the group (zombies excluded). */
export async function liveMembers(pgid: number): Promise<number[]> {
  return (await groupMembers(pgid)) ?? [];
}

export async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}
