/**
 * Release artifacts: a directory copied into the release store and named by its content hash, so a
 * release's files never change after it is created, and the same files deployed twice are one copy.
 *
 * The hash covers, for every entry in path order: its kind, its path relative to the root, the
 * executable bit for files, and the SHA-256 of a file's bytes or a symlink's target. Timestamps and
 * owners are left out, so a rebuilt artifact with the same files hashes the same.
 *
 * What is refused, before anything is written (every refusal a SlipwayError, nothing left behind):
 * - a source that does not exist, is not a directory or is empty (`artifact_invalid`);
 * - a source inside a system tree, a whole system directory, or the data directory (`artifact_refused`,
 *   see locations.ts); the source is resolved first, so a symlink to `/etc` is `/etc`;
 * - a socket, FIFO or device inside, or a symlink that leads outside the artifact (`artifact_invalid`,
 *   see links.ts); a symlinked root is resolved and its content copied, never the link;
 * - more files or bytes than the limits (`artifact_too_large`), found while walking;
 * - files that change while they are copied (`artifact_changed`);
 * - a stop of the control plane mid-copy (`server_stopping`): the temporary copy is removed.
 */
import { randomBytes } from "node:crypto";
import { lstat, readdir, realpath, rename, rm, rmdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { SlipwayError } from "../util/index.js";
import { copyEntries, hashEntries } from "./copy.js";
import { describeLinkProblem, linkProblems } from "./links.js";
import { refusedLocation } from "./locations.js";
import { DEFAULT_ARTIFACT_LIMITS, walkArtifact, type ArtifactLimits } from "./walk.js";

export { DEFAULT_ARTIFACT_LIMITS, type ArtifactLimits } from "./walk.js";

export interface ArtifactDigest {
  /** `sha256:<64 hex>`. */
  hash: string;
  files: number;
  bytes: number;
}

export interface StoredArtifact extends ArtifactDigest {
  /** Absolute path of the copy in the release store. */
  dir: string;
}

export interface StoreArtifactOptions {
  /** `<dataDir>/releases`. */
  releasesDir: string;
  /** The control plane's data directory: never an artifact, nor inside or around one. */
  dataDir: string;
  service: string;
  version: string;
  limits?: ArtifactLimits | undefined;
  /** Aborted when the control plane stops: the copy ends within a chunk and leaves nothing. */
  signal?: AbortSignal | undefined;
}

/**
 * Resolves the source (symlinks included) and checks it before anything is read: an existing,
 * non-empty directory in a place an artifact may come from. Returns the resolved path.
 */
export async function checkArtifactSource(source: string, dataDir: string): Promise<string> {
  let dir: string;
  try {
    dir = await realpath(resolve(source));
  } catch {
    throw new SlipwayError("artifact_invalid", `artifact ${source} does not exist`, {
      hint: "pass the directory your build produced, e.g. --artifact ./dist",
    });
  }
  const data = await realpath(dataDir).catch(() => resolve(dataDir));
  const refused = refusedLocation(dir, data);
  if (refused !== undefined) {
    throw new SlipwayError("artifact_refused", `artifact ${source} is refused: ${refused}`, {
      hint: "pass the directory your build produced, e.g. --artifact ./dist",
    });
  }
  if (!(await stat(dir)).isDirectory()) {
    throw new SlipwayError("artifact_invalid", `artifact ${source} is not a directory`, {
      hint: "an artifact is the directory the service runs in",
    });
  }
  if ((await readdir(dir)).length === 0) {
    throw new SlipwayError("artifact_invalid", `artifact ${source} is an empty directory`);
  }
  return dir;
}

/**
 * Content hash of a directory tree (see the module comment for what it covers). Lenient, for trees
 * Slipway wrote itself (pipeline artifacts): sockets, FIFOs and devices are left out, links not checked.
 */
export async function digestDirectory(root: string): Promise<ArtifactDigest> {
  const walk = await walkArtifact(root, root, { special: "skip" });
  return { hash: await hashEntries(root, walk.entries), files: walk.files, bytes: walk.bytes };
}

/**
 * Copies `source` to `<releasesDir>/<service>/<version>-<hash prefix>`, unless that copy exists
 * already. The copy is made in a temporary sibling and renamed into place, so a crash never leaves a
 * half-copied release where a complete one is expected. See the module comment for what is refused.
 */
export async function storeArtifact(source: string, options: StoreArtifactOptions): Promise<StoredArtifact> {
  const { signal } = options;
  return withFsErrors(source, options.releasesDir, async () => {
    const from = await checkArtifactSource(source, options.dataDir);
    const walk = await walkArtifact(from, source, {
      limits: options.limits ?? DEFAULT_ARTIFACT_LIMITS,
      signal,
      special: "refuse",
    });
    const links = linkProblems(walk.entries);
    const first = links[0];
    if (first !== undefined) {
      const more = links.length > 1 ? ` (and ${links.length - 1} more)` : "";
      throw new SlipwayError("artifact_invalid", `artifact ${source}: ${describeLinkProblem(first)}${more}`, {
        hint: "a release keeps a symlink only when it points inside the artifact; copy the files in instead",
        details: links,
      });
    }
    const parent = join(options.releasesDir, options.service);
    const temp = join(parent, `.tmp-${randomBytes(6).toString("hex")}`);
    try {
      const hash = await copyEntries(from, walk.entries, temp, { source, signal });
      const dir = join(parent, `${options.version}-${hash.slice("sha256:".length, "sha256:".length + 12)}`);
      await rename(temp, dir).catch(async (err: unknown) => {
        // The same files were stored before (or by a deploy racing this one): that copy is identical.
        if (!(await exists(dir))) throw err;
      });
      return { hash, files: walk.files, bytes: walk.bytes, dir };
    } finally {
      await rm(temp, { recursive: true, force: true });
      // A refused first deploy of a service leaves no empty directory behind.
      await rmdir(parent).catch(() => undefined);
    }
  });
}

/**
 * A filesystem error while reading the artifact (unreadable, vanished, a name too long) is the
 * artifact's problem, reported with its path; never an internal error.
 */
async function withFsErrors<T>(source: string, releasesDir: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SlipwayError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code !== "string") throw err;
    if (e.code === "ENOSPC" || e.code === "EDQUOT" || e.path?.startsWith(releasesDir) === true) {
      throw new SlipwayError("store_unwritable", `cannot store artifact ${source}: ${e.code}`, {
        hint: "check the free space and permissions of the data directory",
        cause: err,
      });
    }
    const where = e.path === undefined ? "" : ` (${e.path})`;
    const code = e.code === "ENOENT" ? "artifact_changed" : "artifact_invalid";
    throw new SlipwayError(code, `cannot read artifact ${source}: ${e.code}${where}`, {
      hint: e.code === "EACCES" ? "the control plane's user must be able to read every file" : undefined,
      cause: err,
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
