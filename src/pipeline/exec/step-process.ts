/**
 * One pipeline step's command as a child process: its own process group (so a timeout or a cancel
 * reaches everything it started), a clean environment (only what the caller passes), output read line
 * by line with a timestamp per line.
 *
 * A step ends when its command exits. Anything it left running in the background is then terminated
 * with the group (as CI runners do): a step must not outlive its status.
 */
import { spawn } from "node:child_process";
import { signalGroup, terminateGroup } from "../../runtime/index.js";

/** Time a group gets between SIGTERM and SIGKILL after a timeout, a cancel, or for leftovers. */
const KILL_GRACE_MS = 5_000;
/** Longer lines are split: a log line is never unbounded. */
const MAX_LINE_CHARS = 16 * 1024;

export interface OutputLine {
  /** Epoch ms when the line was read. */
  at: number;
  stream: "out" | "err";
  text: string;
}

export interface StepProcessOptions {
  command: string;
  shell: "sh" | "bash";
  cwd: string;
  /** The whole environment of the process (nothing is inherited). */
  env: Record<string, string>;
  timeoutMs: number;
  /** Aborting cancels the step: the group is terminated. */
  signal?: AbortSignal;
  onLine(line: OutputLine): void;
  /** Called once the process runs, with its pid (= process group id), e.g. to record it for cleanup. */
  onStart?(pgid: number): void;
  now?: () => number;
}

export interface StepProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The shell could not be started at all (missing shell, bad cwd). */
  spawnError?: string;
  durationMs: number;
}

function lineSplitter(stream: "out" | "err", now: () => number, emit: (line: OutputLine) => void) {
  let partial = "";
  const push = (text: string) => {
    for (let i = 0; i < text.length; i += MAX_LINE_CHARS) {
      emit({ at: now(), stream, text: text.slice(i, i + MAX_LINE_CHARS) });
    }
    if (text.length === 0) emit({ at: now(), stream, text });
  };
  return {
    write(chunk: string) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const part of parts) push(part.endsWith("\r") ? part.slice(0, -1) : part);
      if (partial.length > MAX_LINE_CHARS) {
        push(partial);
        partial = "";
      }
    },
    end() {
      if (partial !== "") push(partial);
      partial = "";
    },
  };
}

export function runStepProcess(options: StepProcessOptions): Promise<StepProcessResult> {
  const now = options.now ?? Date.now;
  const started = now();
  return new Promise((resolve) => {
    if (options.signal?.aborted === true) {
      resolve({ exitCode: null, signal: null, timedOut: false, cancelled: true, durationMs: 0 });
      return;
    }
    const shell = options.shell === "bash" ? "/bin/bash" : "/bin/sh";
    const args =
      options.shell === "bash"
        ? ["--noprofile", "--norc", "-eo", "pipefail", "-c", options.command]
        : ["-e", "-c", options.command];
    const child = spawn(shell, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const emit = (line: OutputLine) => {
      options.onLine(line);
    };
    const out = lineSplitter("out", now, emit);
    const err = lineSplitter("err", now, emit);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out.write(d);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err.write(d);
    });
    let timedOut = false;
    let cancelled = false;
    let stopping: Promise<unknown> | undefined;
    const stopGroup = () => {
      const pid = child.pid;
      if (pid === undefined) return;
      stopping ??= terminateGroup(pid, KILL_GRACE_MS).catch(() => signalGroup(pid, "SIGKILL"));
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stopGroup();
    }, options.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      stopGroup();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let spawnError: string | undefined;
    child.once("error", (e) => {
      spawnError = e.message;
    });
    if (child.pid !== undefined) options.onStart?.(child.pid);
    child.once("close", (code, signal) => {
      void finish(code, signal);
    });
    child.once("exit", () => {
      // Leftovers in the background would hold the pipes open: the step is over, so they go too.
      stopGroup();
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, KILL_GRACE_MS + 1_000).unref();
    });
    const finish = async (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      await stopping;
      out.end();
      err.end();
      resolve({
        exitCode: code,
        signal,
        timedOut,
        cancelled,
        ...(spawnError === undefined ? {} : { spawnError }),
        durationMs: now() - started,
      });
    };
  });
}
