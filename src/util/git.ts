/**
 * Every git command the control plane runs goes through `runGit`: one environment (git pointed only at
 * the repository named with -C, never prompting), one timeout rule, and one error contract. A failure
 * is a SlipwayError `git_failed` whose message names the subcommand and git's own last lines (or the
 * time it had, credentials in URLs redacted), whose `details` carry the subcommand and exit code, and whose `cause` is the original
 * error. Callers that turn it into something else (a run's failure, a refused trigger) keep it as cause.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SlipwayError } from "./errors.js";
import { redactText } from "./redact.js";

const exec = promisify(execFile);

/** Variables that would point git at another repository than the one named with -C. */
const REPOSITORY_VARIABLES = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
];

/**
 * The environment for git commands: the process's own (PATH, HOME, credentials helpers), without the
 * variables a git hook sets (the post-commit hook runs inside a repository), and never a prompt.
 */
export function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0" };
  for (const name of REPOSITORY_VARIABLES) Reflect.deleteProperty(env, name);
  return env;
}

export interface GitOptions {
  cwd?: string;
  /** Ends the command after this long (default 15 s); 0 for no limit (a clone of a large repository). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Runs `git …args` and answers its standard output, trimmed; throws `git_failed`. */
export async function runGit(args: readonly string[], options: GitOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  try {
    const { stdout } = await exec("git", [...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      env: gitEnv(),
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim();
  } catch (err) {
    throw gitFailed(args, err, timeoutMs);
  }
}

/** The subcommand of a git command line: what follows the global options (`-C dir`, `-c k=v`). */
export function gitSubcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? "";
    if (arg === "-C" || arg === "-c") i += 1;
    else if (!arg.startsWith("-")) return arg;
  }
  return "";
}

function gitFailed(args: readonly string[], err: unknown, timeoutMs: number): SlipwayError {
  const e = err as { stderr?: unknown; message?: unknown; killed?: unknown; code?: unknown };
  const command = gitSubcommand(args);
  const stderr = typeof e.stderr === "string" ? e.stderr.trim() : "";
  const message = typeof e.message === "string" ? e.message.trim() : String(err);
  const why =
    e.killed === true && timeoutMs > 0
      ? `no answer within ${timeoutMs / 1000} s`
      : (stderr !== "" ? stderr : message).split("\n").slice(-3).join(" ");
  // git quotes the URL it could not reach, credentials included: the message reaches run states and
  // API answers, so they are cut out here, once, for every caller.
  return new SlipwayError("git_failed", `git ${command} failed: ${redactText(why)}`, {
    cause: err,
    details: { command, exitCode: typeof e.code === "number" ? e.code : null },
  });
}
