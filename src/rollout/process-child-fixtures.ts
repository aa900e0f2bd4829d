/**
 * The process side of ProcessWorld (process-world-fixtures.ts): where the built entry points are, a
 * child process that leads its own group with the tail of its output kept, and what the agent left on
 * disk about the processes it does not own as children: the instances' pid files and the edge's pid
 * record. Those outlive an agent killed with SIGKILL, so cleanup and the agent-restart tests read them
 * (the test compares instance pids across an agent restart; cleanup kills the edge, which is detached).
 *
 * Every pid read here is checked against /proc's start time before anyone signals it, so a pid reused
 * by another process is never killed.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, type Dirent } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root: the nearest directory above this file with a package.json. Walked up rather
 * than a fixed `../../`, because this file runs from src/rollout (tests) and from
 * dist-bench/src/rollout (benchmarks).
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("no package.json above the process-world fixture");
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = findRoot();
/** The repository's dist/, which `npm run build` fills. */
export const AGENT_MAIN = join(REPO_ROOT, "dist/agent/main.js");
export const CLI_MAIN = join(REPO_ROOT, "dist/cli/main.js");

const START_TIMEOUT_MS = 20_000;

/** A child process that leads its own process group, with the tail of its output kept. */
export class GroupChild {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #out = "";

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.#out = (this.#out + chunk.toString()).slice(-8_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    // A signal racing the child's death reports ESRCH here; exit handling covers it.
    child.on("error", () => undefined);
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error(`${this.name} has no pid`);
    return pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.#out;
  }

  /** Signals the whole group; false when it is gone already. */
  signal(signal: NodeJS.Signals): boolean {
    return signalGroup(this.pid, signal);
  }

  /** Resolves with the output once `pattern` appears; rejects if the child exits or time runs out first. */
  waitForOutput(pattern: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.#out);
        if (match === null) return;
        cleanup();
        resolve(match);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`${this.name} exited before it was ready:\n${this.#out}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.#out}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout?.off("data", check);
        this.child.off("exit", onExit);
      };
      this.child.stdout?.on("data", check);
      this.child.once("exit", onExit);
      check();
    });
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** One process only (the agent's own handler does the orderly stop); false when it is gone. */
export function signalLeader(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The environment for a child: this process's, without any SLIPWAY_ setting a developer has set. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SLIPWAY_")) env[k] = v;
  return env;
}

/** /proc/<pid>/stat field 22 (start time in clock ticks); undefined when the process is gone. */
function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Whether a recorded pid is still the process the record describes (same start time when known). */
function isRecordedProcess(pid: number, recordedTicks: number | undefined): boolean {
  const ticks = startTicks(pid);
  if (ticks === undefined) return false;
  return recordedTicks === undefined || recordedTicks === ticks;
}

/** A live instance as its pid file describes it. */
export interface LiveInstance {
  id: string;
  release: string;
  /** Also its process group id. */
  pid: number;
}

function listDir(dir: string, wanted: (e: Dirent) => boolean): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter(wanted)
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/**
 * Instances named by the agent's pid files that are still the processes the files describe (same
 * start time), sorted by id. Written by the agent, so they outlive it: readable while no agent runs.
 */
export function liveInstances(dataDir: string): LiveInstance[] {
  const base = join(dataDir, "agent", "instances");
  const found: LiveInstance[] = [];
  for (const serviceDir of listDir(base, (e) => e.isDirectory())) {
    for (const envDir of listDir(serviceDir, (e) => e.isDirectory())) {
      for (const path of listDir(envDir, (e) => e.name.endsWith(".pid"))) {
        try {
          const record = JSON.parse(readFileSync(path, "utf8")) as {
            id?: string;
            release?: string;
            pid?: number;
            startTicks?: number;
          };
          if (typeof record.pid !== "number" || !isRecordedProcess(record.pid, record.startTicks)) continue;
          found.push({ id: record.id ?? path, release: record.release ?? "", pid: record.pid });
        } catch {
          // half-written or foreign: skip
        }
      }
    }
  }
  return found.sort((a, b) => a.id.localeCompare(b.id));
}

/** Instance process groups that are still the processes their pid files describe. */
export function instanceGroups(dataDir: string): number[] {
  return liveInstances(dataDir).map((i) => i.pid);
}

/**
 * The edge (the detached process holding the router listeners) when its pid record names a live
 * process with the recorded start time; undefined otherwise.
 */
export function liveEdgePid(dataDir: string): number | undefined {
  try {
    const path = join(dataDir, "agent", "edge.pid");
    const record = JSON.parse(readFileSync(path, "utf8")) as { pid?: number; startTicks?: number };
    if (typeof record.pid !== "number") return undefined;
    return isRecordedProcess(record.pid, record.startTicks) ? record.pid : undefined;
  } catch {
    return undefined;
  }
}
