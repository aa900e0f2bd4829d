/**
 * Release artifacts: a directory copied into the release store and named by its content hash, so a
 * release's files never change after it is created, and the same files deployed twice are one copy.
 *
 * The hash covers, for every entry in path order: its kind, its path relative to the root, the
 * executable bit for files, and the SHA-256 of a file's bytes or a symlink's target. Timestamps and
 * owners are left out, so a rebuilt artifact with the same files hashes the same.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { cp, lstat, mkdir, readdir, readlink, rename, rm, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { SlipwayError } from "../util/errors.js";

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

/** Checks the source before anything is copied: it must be an existing, non-empty directory. */
export async function checkArtifactSource(source: string): Promise<string> {
  const dir = resolve(source);
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new SlipwayError("invalid_request", `artifact ${source} does not exist`, {
      hint: "pass the directory your build produced, e.g. --artifact ./dist",
    });
  }
  if (!info.isDirectory()) {
    throw new SlipwayError("invalid_request", `artifact ${source} is not a directory`, {
      hint: "an artifact is the directory the service runs in",
    });
  }
  if ((await readdir(dir)).length === 0) {
    throw new SlipwayError("invalid_request", `artifact ${source} is an empty directory`);
  }
  return dir;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Content hash of a directory tree (see the module comment for what it covers). */
export async function digestDirectory(root: string): Promise<ArtifactDigest> {
  const outer = createHash("sha256");
  let files = 0;
  let bytes = 0;
  async function walk(dir: string): Promise<void> {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const path = join(dir, name);
      const rel = relative(root, path).split(sep).join("/");
      const info = await lstat(path);
      if (info.isSymbolicLink()) {
        outer.update(`l\0${rel}\0${await readlink(path)}\n`);
      } else if (info.isDirectory()) {
        outer.update(`d\0${rel}\n`);
        await walk(path);
      } else if (info.isFile()) {
        files += 1;
        bytes += info.size;
        const exec = (info.mode & 0o111) !== 0 ? "x" : "-";
        outer.update(`f\0${rel}\0${exec}\0${await hashFile(path)}\n`);
      }
      // Sockets, FIFOs and devices are not part of an artifact; they are neither hashed nor copied.
    }
  }
  await walk(root);
  return { hash: `sha256:${outer.digest("hex")}`, files, bytes };
}

/**
 * Copies `source` to `<releasesDir>/<service>/<version>-<hash prefix>`, unless that copy exists
 * already. The copy is made in a temporary sibling and renamed into place, so a crash never leaves a
 * half-copied release where a complete one is expected.
 */
export async function storeArtifact(
  source: string,
  releasesDir: string,
  service: string,
  version: string,
): Promise<StoredArtifact> {
  const from = await checkArtifactSource(source);
  const digest = await digestDirectory(from);
  const parent = join(releasesDir, service);
  const dir = join(parent, `${version}-${digest.hash.slice("sha256:".length, "sha256:".length + 12)}`);
  if (await exists(dir)) return { ...digest, dir };
  await mkdir(parent, { recursive: true });
  const temp = join(parent, `.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await cp(from, temp, {
      recursive: true,
      verbatimSymlinks: true,
      preserveTimestamps: true,
      filter: async (path) => {
        const info = await lstat(path);
        return info.isDirectory() || info.isFile() || info.isSymbolicLink();
      },
    });
    // The files may have changed while they were copied: hash the copy, which is what will run.
    const copied = await digestDirectory(temp);
    if (copied.hash !== digest.hash) {
      throw new SlipwayError("conflict", `artifact ${source} changed while it was being copied`, {
        hint: "deploy again once the build has finished writing",
      });
    }
    await rename(temp, dir).catch(async (err: unknown) => {
      // Another deploy of the same files won the rename: theirs is identical.
      if (!(await exists(dir))) throw err;
    });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { ...digest, dir };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
