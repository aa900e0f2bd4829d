/**
 * Spawning one process of an instance: its env, its own process group, its log pipes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { homedir } from "node:os";
import { dirname } from "node:path";
import type { InstanceLog } from "./instance-log.js";
import { SCOPE_VARIABLE, scopedShellArgs, type InstanceScope } from "./instance-scope.js";
import { openLogPipes, type LogPipePaths } from "./log-pipe.js";
import type { InstanceSpec } from "./types.js";

const STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * PATH and HOME only; the agent's node comes first on PATH so `node server.js` finds the same runtime
 * even when it was installed outside the standard directories (nvm, a tarball).
 */
export function defaultBaseEnv(): Record<string, string> {
  return { PATH: `${dirname(process.execPath)}:${STANDARD_PATH}`, HOME: homedir() };
}

/** base < spec env (service env and secrets) < what Slipway sets, which an instance cannot override. */
export function instanceEnv(
  base: Record<string, string>,
  spec: InstanceSpec,
  port: number,
): Record<string, string> {
  return {
    ...base,
    ...spec.envVars,
    PORT: String(port),
    SLIPWAY_RELEASE: spec.release,
    SLIPWAY_SERVICE: spec.service,
    SLIPWAY_ENV: spec.env,
    SLIPWAY_INSTANCE: spec.id,
  };
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** An adopted process is not our child: its exit status is lost (PID 1 reaped it). */
  unknown?: true;
}

/** For the log and the status message: "exited with code 1", "killed by SIGKILL". */
export function describeExit(exit: ProcessExit): string {
  if (exit.unknown === true) return "exited (adopted: exit status unknown)";
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return `killed by ${exit.signal ?? "a signal"}`;
}

export interface LaunchedProcess {
  /** Also the process group id. */
  pid: number;
  /** Every process of this spawn, for stops and clean-ups (instance-scope.ts). */
  scope: InstanceScope;
  /** Set when the process was started by a previous agent and adopted (ISO time of the adoption). */
  adoptedAt?: string;
  /** Settles when the leader exits (Node reaps it: never a zombie of ours). */
  exited: Promise<ProcessExit>;
  /** Settles when every writer of stdout and stderr is gone (grandchildren included). */
  drained: Promise<void>;
  /** Stops reading output; after exit, or to hand the process over (adoption). */
  closePipes(): void;
  /** Lets the agent exit while the process runs on (shutdown without stopping instances). */
  detach(): void;
}

export interface LaunchOptions {
  spec: InstanceSpec;
  env: Record<string, string>;
  pipes: LogPipePaths;
  log: InstanceLog;
  scope: InstanceScope;
}

/** Spawns `/bin/sh -c <command>` as the leader of a new process group; rejects if it cannot spawn. */
export async function launchProcess(options: LaunchOptions): Promise<LaunchedProcess> {
  const { spec, env, log, scope } = options;
  const pipes = await openLogPipes(options.pipes, log);
  let child: ChildProcess;
  try {
    child = spawn("/bin/sh", scopedShellArgs(scope, spec.command), {
      cwd: spec.cwd,
      env: { ...env, [SCOPE_VARIABLE]: scope.token },
      // detached = setsid(): its own group (one kill reaches everything it forks) and no controlling
      // terminal (Ctrl-C on the agent's terminal does not reach it).
      detached: true,
      stdio: ["ignore", pipes.childFds[0], pipes.childFds[1]],
    });
  } catch (e) {
    // Trap: spawn throws synchronously on bad arguments (a NUL byte in the command or env).
    pipes.close();
    throw e;
  }
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
  } catch (e) {
    pipes.close();
    throw e;
  } finally {
    pipes.releaseChildFds();
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error("spawned process has no pid");
  return {
    pid,
    scope,
    exited,
    drained: pipes.drained,
    closePipes: () => {
      pipes.close();
    },
    detach: () => {
      child.unref();
      pipes.close();
    },
  };
}
