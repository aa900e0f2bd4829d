import { spawn } from "node:child_process";
import type { ProbeAttempt, ProbeTarget } from "./probe.js";

/** Enough output to say why a check failed, not a whole log. */
const OUTPUT_TAIL_CHARS = 300;

/** SIGKILL to a whole process group; a group that is already gone is fine. */
function killGroup(pgid: number | undefined): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: nothing left to kill.
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, output: string): string {
  const status = code !== null ? `exit ${code}` : `killed by ${signal ?? "a signal"}`;
  const lastLine = output.trimEnd().split("\n").at(-1) ?? "";
  return lastLine === "" ? status : `${status}: ${lastLine}`;
}

/**
 * Runs `command` with `/bin/sh -c` in the instance's directory and env; exit status 0 passes.
 *
 * Trap: the command runs in its own process group and the whole group is killed when the attempt ends
 * (exit, timeout or abort), so a check such as `curl … &` or a hung `psql` never outlives its probe.
 */
export function commandAttempt(target: ProbeTarget, command: string): ProbeAttempt {
  return (signal) =>
    new Promise((resolve) => {
      let output = "";
      let settled = false;
      const settle = (ok: boolean, detail: string) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve({ ok, detail });
      };
      // Only the instance's env: the agent's own environment (tokens, secrets) must not reach checks.
      const child = spawn("/bin/sh", ["-c", command], {
        cwd: target.cwd,
        env: target.env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const collect = (chunk: Buffer) => {
        output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
      };
      child.stdout.on("data", collect);
      child.stderr.on("data", collect);
      function onAbort() {
        killGroup(child.pid);
        child.stdout.destroy();
        child.stderr.destroy();
        settle(false, "aborted");
      }
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) onAbort();
      child.once("error", (e) => {
        settle(false, e.message);
      });
      child.once("exit", () => {
        // Leftover background jobs would hold the pipes open and delay 'close' forever.
        killGroup(child.pid);
      });
      child.once("close", (code: number | null, exitSignal: NodeJS.Signals | null) => {
        settle(code === 0, describeExit(code, exitSignal, output));
      });
    });
}
