import { execFile } from "node:child_process";
import { dirname, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { parseConfig, readConfigText } from "../config/index.js";

const run = promisify(execFile);

export interface ConfigSource {
  /** As shown in messages: relative to the working directory. */
  file: string;
  source: string;
  gitCommit: string | undefined;
}

/**
 * Reads and checks the config locally first, so a broken file fails fast with located errors and
 * without a round-trip; the server validates again (it trusts no client). The file is read once: what
 * was checked is what is sent, and a FIFO, a device or an oversized file is refused before reading.
 */
export async function readConfigSource(file: string, cwd: string): Promise<ConfigSource> {
  const path = resolve(cwd, file);
  const source = await readConfigText(path);
  parseConfig(source, path);
  return { file: relative(cwd, path) || path, source, gitCommit: await gitCommitOf(path) };
}

/**
 * The commit of the repository holding the file, when there is one and the file is exactly as
 * committed: a revision must never claim a commit whose file differs from what was applied (the source
 * hash is recorded either way). Best effort: git may be absent.
 */
async function gitCommitOf(path: string): Promise<string | undefined> {
  try {
    const cwd = dirname(path);
    const { stdout } = await run("git", ["-C", cwd, "rev-parse", "HEAD"], { timeout: 5000 });
    const commit = stdout.trim();
    if (!/^[0-9a-f]{7,64}$/.test(commit)) return undefined;
    const status = await run("git", ["-C", cwd, "status", "--porcelain", "--", path], { timeout: 5000 });
    return status.stdout.trim() === "" ? commit : undefined;
  } catch {
    return undefined;
  }
}
