/**
 * Copies a walked artifact into a fresh directory and hashes what it writes, in one read of each file.
 * The hash is therefore of the copy, which is what will run. A file that is not what the walk saw (its
 * size moved, it became a link or vanished) stops the copy as `artifact_changed`: a build still
 * writing must not become a release. Each chunk checks the signal, so a stop cancels a large copy
 * within one chunk.
 *
 * What a copy keeps: contents, the executable bit, timestamps of files, and links as links (already
 * checked to stay inside). Owner-only modes: the release store belongs to the user that runs Slipway.
 */
import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, symlink, utimes, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { SlipwayError } from "../util/index.js";
import { stopped, type ArtifactEntry } from "./walk.js";

const CHUNK_BYTES = 1024 * 1024;

/** One line of the release hash per entry (see artifact.ts for what the hash covers). */
export function hashLine(entry: ArtifactEntry, fileSha256?: string): string {
  switch (entry.kind) {
    case "dir":
      return `d\0${entry.rel}\n`;
    case "link":
      return `l\0${entry.rel}\0${entry.target}\n`;
    case "file":
      return `f\0${entry.rel}\0${entry.exec ? "x" : "-"}\0${fileSha256 ?? ""}\n`;
    default: {
      const unknown: never = entry;
      return String(unknown);
    }
  }
}

export interface CopyOptions {
  /** The artifact as the user named it, for messages. */
  source: string;
  signal?: AbortSignal | undefined;
}

function changed(source: string, rel: string, what: string): SlipwayError {
  return new SlipwayError(
    "artifact_changed",
    `artifact ${source} changed while it was copied: ${rel} ${what}`,
    {
      hint: "deploy again once the build has finished writing",
    },
  );
}

/**
 * Reads `from` once, writing it to `to` and into `hash`. Opened without following a symlink, and read
 * at most one byte past the size the walk saw: a file that grows (or a pseudo file that never ends)
 * is refused, not read for ever.
 */
async function copyFile(
  from: string,
  to: string,
  entry: Extract<ArtifactEntry, { kind: "file" }>,
  options: CopyOptions,
): Promise<string> {
  const hash = createHash("sha256");
  let input: FileHandle;
  try {
    input = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "ENOENT")
      throw changed(options.source, entry.rel, "is gone or now a symlink");
    throw err;
  }
  try {
    const info = await input.stat();
    if (!info.isFile() || info.size !== entry.size) throw changed(options.source, entry.rel, "changed size");
    const output = await open(to, "wx", entry.exec ? 0o700 : 0o600);
    try {
      await pump(input, output, hash, entry, options);
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
  await utimes(to, entry.atimeMs / 1000, entry.mtimeMs / 1000);
  return hash.digest("hex");
}

async function pump(
  input: FileHandle,
  output: FileHandle,
  hash: Hash,
  entry: Extract<ArtifactEntry, { kind: "file" }>,
  options: CopyOptions,
): Promise<void> {
  // One byte more than expected: a read that fills the buffer past the size means the file grew.
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, entry.size + 1));
  let total = 0;
  for (;;) {
    if (options.signal?.aborted === true) throw stopped(options.source);
    const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
    total += bytesRead;
    if (total > entry.size) throw changed(options.source, entry.rel, "grew");
    if (bytesRead > 0) {
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      await output.write(chunk);
    }
    // A short read of a regular file is its end: no extra read to find out.
    if (bytesRead < buffer.length) break;
  }
  if (total !== entry.size) throw changed(options.source, entry.rel, "shrank");
}

/** Files copied at once: each copy waits on the disk more than on the CPU. */
const PARALLEL_FILES = 8;

/**
 * Copies every entry of `root` into `to` (which must not exist) and returns the release hash of the
 * copy. Directories and links first, in order; then the files, several at a time. On any error every
 * copy in flight has ended before this rejects, so the caller can remove `to` for good.
 */
export async function copyEntries(
  root: string,
  entries: readonly ArtifactEntry[],
  to: string,
  options: CopyOptions,
): Promise<string> {
  // Recursive: the service's directory is made here too (and again if a refused deploy just removed it).
  await mkdir(to, { recursive: true, mode: 0o700 });
  for (const entry of entries) {
    if (options.signal?.aborted === true) throw stopped(options.source);
    if (entry.kind === "dir") await mkdir(join(to, entry.rel), { mode: 0o700 });
    else if (entry.kind === "link") await symlink(entry.target, join(to, entry.rel));
  }
  const files = entries.flatMap((e, index) => (e.kind === "file" ? [{ e, index }] : []));
  const sums = new Map<number, string>();
  const local = new AbortController();
  const signal =
    options.signal === undefined ? local.signal : AbortSignal.any([options.signal, local.signal]);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < files.length && !signal.aborted) {
      const { e, index } = files[next++] as { e: Extract<ArtifactEntry, { kind: "file" }>; index: number };
      try {
        sums.set(index, await copyFile(join(root, e.rel), join(to, e.rel), e, { ...options, signal }));
      } catch (err) {
        local.abort();
        throw err;
      }
    }
  }
  const results = await Promise.allSettled(Array.from({ length: PARALLEL_FILES }, () => worker()));
  // The first real failure, not the cancellations it caused in the other workers.
  const failed = results.find(
    (r): r is PromiseRejectedResult =>
      r.status === "rejected" && !(r.reason instanceof SlipwayError && r.reason.code === "server_stopping"),
  );
  if (failed !== undefined && options.signal?.aborted !== true) throw failed.reason;
  if (options.signal?.aborted === true) throw stopped(options.source);
  const outer = createHash("sha256");
  entries.forEach((entry, index) => outer.update(hashLine(entry, sums.get(index))));
  return `sha256:${outer.digest("hex")}`;
}

/** The release hash of a walked tree without copying it (pipeline artifacts hash their own store). */
export async function hashEntries(root: string, entries: readonly ArtifactEntry[]): Promise<string> {
  const outer = createHash("sha256");
  for (const entry of entries) {
    if (entry.kind !== "file") {
      outer.update(hashLine(entry));
      continue;
    }
    const hash = createHash("sha256");
    const input = await open(join(root, entry.rel), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      for await (const chunk of input.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
    } finally {
      await input.close();
    }
    outer.update(hashLine(entry, hash.digest("hex")));
  }
  return `sha256:${outer.digest("hex")}`;
}
