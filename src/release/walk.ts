/**
 * One walk over an artifact directory that lists what a release will hold, before any byte is read or
 * copied. It only looks (lstat, readdir, readlink), so the limits stop it early: a tree over the file
 * count or size limit is refused when the walk reaches the limit, not after reading everything.
 *
 * The entries come in the order the release hash covers them: depth first, names sorted, a directory
 * before what it holds.
 */
import type { Stats } from "node:fs";
import { lstat, readdir, readlink, statfs } from "node:fs/promises";
import { join } from "node:path";
import { SlipwayError } from "../util/index.js";

export type ArtifactEntry =
  | { kind: "dir"; rel: string }
  | { kind: "link"; rel: string; target: string }
  | { kind: "file"; rel: string; size: number; exec: boolean; mtimeMs: number; atimeMs: number };

export interface ArtifactLimits {
  /** Total bytes of the regular files. */
  maxBytes: number;
  /** Files, directories and symlinks together. */
  maxFiles: number;
}

/** Large enough for any real service (a Node app with its node_modules fits), small enough to stop `/`. */
export const DEFAULT_ARTIFACT_LIMITS: Readonly<ArtifactLimits> = Object.freeze({
  maxBytes: 2 * 1024 ** 3,
  maxFiles: 100_000,
});

export interface WalkOptions {
  limits?: ArtifactLimits | undefined;
  signal?: AbortSignal | undefined;
  /**
   * `refuse` (a release): a socket, FIFO or device inside is an error. `skip` (a pipeline artifact,
   * hashed only): they are left out, as they always were.
   */
  special: "refuse" | "skip";
}

export interface ArtifactWalk {
  entries: ArtifactEntry[];
  files: number;
  bytes: number;
}

/** Filesystems whose files are not files: reading them never ends, blocks, or changes the machine. */
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, "proc"],
  [0x62656572, "sysfs"],
  [0x1cd1, "devpts"],
  [0x64626720, "debugfs"],
  [0x74726163, "tracefs"],
  [0x73636673, "securityfs"],
  [0x27e0eb, "cgroup"],
  [0x63677270, "cgroup2"],
  [0xcafe4a11, "bpf"],
  [0x6165676c, "pstore"],
  [0x62656570, "configfs"],
  [0x65735543, "fusectl"],
  [0xde5e81e4, "efivarfs"],
  [0x42494e4d, "binfmt_misc"],
  [0x19800202, "mqueue"],
]);

/** Refuses a directory on a pseudo filesystem (a bind-mounted /proc has no telling path). */
async function checkFilesystem(dir: string, shown: string): Promise<void> {
  if (process.platform !== "linux") return;
  const kind = PSEUDO_FILESYSTEMS.get((await statfs(dir)).type);
  if (kind !== undefined) {
    throw new SlipwayError("artifact_refused", `${shown} is on a ${kind} filesystem, not a build's output`);
  }
}

function specialKind(info: Stats): string {
  if (info.isFIFO()) return "a FIFO";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice() || info.isBlockDevice()) return "a device";
  return "an entry that is not a file, directory or symlink";
}

/** The cancellation error every long artifact operation throws. */
export function stopped(source: string): SlipwayError {
  return new SlipwayError(
    "server_stopping",
    `the control plane is stopping: the copy of ${source} was cancelled and nothing was stored`,
    { hint: "deploy again once the control plane is back" },
  );
}

/**
 * Lists `root` (an absolute, resolved directory). `source` is the path as the user gave it, for
 * messages. Throws `artifact_too_large`, `artifact_invalid`, `artifact_refused` or `server_stopping`.
 */
export async function walkArtifact(
  root: string,
  source: string,
  options: WalkOptions,
): Promise<ArtifactWalk> {
  const walk: ArtifactWalk = { entries: [], files: 0, bytes: 0 };
  const rootInfo = await lstat(root);
  await checkFilesystem(root, source);
  // Recursion is bounded by the path length limit (a few thousand levels at most), and an async
  // frame waits on the heap, not the stack.
  async function visit(dirRel: string, dev: number): Promise<void> {
    const names = (await readdir(join(root, dirRel))).sort();
    for (const name of names) {
      if (options.signal?.aborted === true) throw stopped(source);
      const rel = dirRel === "" ? name : `${dirRel}/${name}`;
      const info = await lstat(join(root, rel));
      checkCount(walk, source, options.limits);
      if (info.isSymbolicLink()) {
        walk.entries.push({ kind: "link", rel, target: await readlink(join(root, rel)) });
      } else if (info.isDirectory()) {
        if (info.dev !== dev) await checkFilesystem(join(root, rel), `${source}/${rel}`);
        walk.entries.push({ kind: "dir", rel });
        await visit(rel, info.dev);
      } else if (info.isFile()) {
        addFile(walk, source, options.limits, rel, info);
      } else if (options.special === "refuse") {
        throw new SlipwayError(
          "artifact_invalid",
          `artifact ${source} contains ${specialKind(info)} at ${rel}; a release holds only files, directories and symlinks`,
          { hint: "remove it from the build's output" },
        );
      }
    }
  }
  await visit("", rootInfo.dev);
  return walk;
}

function checkCount(walk: ArtifactWalk, source: string, limits: ArtifactLimits | undefined): void {
  if (limits === undefined || walk.entries.length < limits.maxFiles) return;
  throw new SlipwayError(
    "artifact_too_large",
    `artifact ${source} has more than ${limits.maxFiles} files and directories; nothing was stored`,
    { hint: "deploy only the build's output, or raise SLIPWAY_ARTIFACT_MAX_FILES" },
  );
}

function addFile(
  walk: ArtifactWalk,
  source: string,
  limits: ArtifactLimits | undefined,
  rel: string,
  info: Stats,
): void {
  walk.files += 1;
  walk.bytes += info.size;
  if (limits !== undefined && walk.bytes > limits.maxBytes) {
    throw new SlipwayError(
      "artifact_too_large",
      `artifact ${source} is larger than ${formatLimit(limits.maxBytes)}; nothing was stored`,
      { hint: "deploy only the build's output, or raise SLIPWAY_ARTIFACT_MAX_BYTES" },
    );
  }
  const exec = (info.mode & 0o111) !== 0;
  walk.entries.push({
    kind: "file",
    rel,
    size: info.size,
    exec,
    mtimeMs: info.mtimeMs,
    atimeMs: info.atimeMs,
  });
}

function formatLimit(n: number): string {
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GiB`;
  if (n >= 1024 ** 2 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
