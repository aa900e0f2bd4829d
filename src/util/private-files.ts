/**
 * The data directory and everything in it belong to the user running Slipway: directories 0700,
 * files 0600. It holds the database, tokens, the agent's socket (whoever reaches it runs commands as
 * that user), logs, pipeline workspaces and release copies.
 *
 * The rule is a umask applied by hand, not `process.umask()`: the process umask would also reach the
 * services and pipeline steps Slipway starts, whose files are theirs to decide. So what Slipway creates
 * passes these modes, what it copies goes through `privateMode`, and `tightenTree` makes one pass over
 * what an earlier version left.
 */
import { mkdirSync } from "node:fs";
import { chmod, lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * The mode an entry should have: a directory 0700; anything else keeps only its owner's bits (an
 * executable keeps its x bit, a read-only file stays read-only), and loses setuid, setgid and sticky.
 */
export function privateMode(mode: number, isDirectory: boolean): number {
  return isDirectory ? PRIVATE_DIR_MODE : mode & 0o700;
}

/** Creates a directory (and missing parents) as 0700. An existing directory is left as it is. */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** An entry whose mode let others in, as it was found. */
export interface LoosenedEntry {
  path: string;
  /** The permission bits it had, e.g. 0o755. */
  mode: number;
}

export interface TightenResult {
  /** Entries that gave group or others any access, now owner-only. */
  loosened: LoosenedEntry[];
  /** Entries whose mode could not be changed (not ours, vanished): path and error code. */
  failed: { path: string; code: string }[];
}

/** Entries looked at in parallel: the walk waits on the disk, not on the CPU. */
const WALK_CONCURRENCY = 16;

/**
 * Makes `root` and everything under it owner-only (see `privateMode`). The root is changed first, so
 * from then on no other user can reach what is inside while the walk goes on. Symbolic links are never
 * followed or changed (chmod would change their target, which may be anywhere). A missing root is not
 * an error. `depth` 0 stops at the root, 1 at its entries; the default walks the whole tree.
 */
export async function tightenTree(root: string, depth = Infinity): Promise<TightenResult> {
  const result: TightenResult = { loosened: [], failed: [] };
  const pending: { path: string; depth: number }[] = [];
  const visit = async (path: string, level: number) => {
    if (!(await tightenEntry(path, result)) || level >= depth) return;
    try {
      for (const name of await readdir(path)) pending.push({ path: join(path, name), depth: level + 1 });
    } catch (err) {
      result.failed.push({ path, code: errorCode(err) });
    }
  };
  await visit(root, 0);
  await new Promise<void>((resolve) => {
    let active = 0;
    const pump = () => {
      while (active < WALK_CONCURRENCY && pending.length > 0) {
        const next = pending.pop();
        if (next === undefined) break;
        active++;
        const done = () => {
          active--;
          pump();
        };
        visit(next.path, next.depth).then(done, done);
      }
      if (active === 0 && pending.length === 0) resolve();
    };
    pump();
  });
  return result;
}

/** Tightens one entry; answers whether it is a directory to descend into. */
async function tightenEntry(path: string, result: TightenResult): Promise<boolean> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (err) {
    if (errorCode(err) !== "ENOENT") result.failed.push({ path, code: errorCode(err) });
    return false;
  }
  if (stats.isSymbolicLink()) return false;
  const mode = stats.mode & 0o7777;
  const wanted = privateMode(mode, stats.isDirectory());
  if (mode !== wanted) {
    try {
      await chmod(path, wanted);
      if ((mode & 0o077) !== 0) result.loosened.push({ path, mode });
    } catch (err) {
      if (errorCode(err) !== "ENOENT") result.failed.push({ path, code: errorCode(err) });
    }
  }
  return stats.isDirectory();
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

/** `0o755` → `"0755"`, as `ls` and `chmod` write it. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}
