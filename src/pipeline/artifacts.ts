/**
 * Artifacts and caches: workspace paths copied into a content-addressed store under the data
 * directory, so a rerun, a later job or a deploy finds exactly the files that were saved.
 *
 * - artifact: `<dataDir>/pipelines/artifacts/<hash>/` holds the paths as they were in the workspace
 *   (relative layout kept); the hash is the release store's (src/release/artifact.ts).
 * - cache: `<dataDir>/pipelines/cache/<sha256 of the key>/`, written once per key (a cache is never
 *   overwritten: the key, built from file hashes, says when it is stale).
 */
import { createHash, randomBytes } from "node:crypto";
import { cp, mkdir, rename, rm, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { digestDirectory } from "../release/index.js";
import { PRIVATE_DIR_MODE, SlipwayError, tightenTree } from "../util/index.js";
import type { ArtifactRef } from "./types.js";

/** A workspace-relative path that stays inside the workspace. */
function inside(workspace: string, path: string): string {
  const clean = normalize(path.replace(/\/+$/, ""));
  const full = isAbsolute(clean) ? clean : join(workspace, clean);
  const rel = relative(workspace, full);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    throw new SlipwayError("invalid_request", `path ${path} is outside the workspace`);
  }
  return rel;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function copyPaths(workspace: string, paths: string[], to: string, required: boolean): Promise<number> {
  let copied = 0;
  for (const path of paths) {
    const rel = inside(workspace, path);
    const from = join(workspace, rel);
    if (!(await exists(from))) {
      if (required)
        throw new SlipwayError("invalid_request", `artifact path ${path} does not exist in the workspace`);
      continue;
    }
    await mkdir(join(to, rel, ".."), { recursive: true, mode: PRIVATE_DIR_MODE });
    await cp(from, join(to, rel), { recursive: true, verbatimSymlinks: true });
    // cp keeps the workspace's modes (0755, 0644); the store under the data directory is owner-only.
    await tightenTree(join(to, rel));
    copied += 1;
  }
  return copied;
}

export async function saveArtifact(
  dataDir: string,
  workspace: string,
  name: string,
  paths: string[],
): Promise<ArtifactRef> {
  const root = join(dataDir, "pipelines", "artifacts");
  const temp = join(root, `.tmp-${randomBytes(6).toString("hex")}`);
  await mkdir(temp, { recursive: true });
  try {
    await copyPaths(workspace, paths, temp, true);
    const digest = await digestDirectory(temp);
    const dir = join(root, digest.hash.slice("sha256:".length));
    // Jobs running at once may save the same content: whoever renames first wins, the rest find it.
    if (!(await exists(dir))) {
      await rename(temp, dir).catch(async (err: unknown) => {
        if (!(await exists(dir))) throw err;
      });
    }
    return { name, hash: digest.hash, dir, files: digest.files, bytes: digest.bytes, paths };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** Puts an artifact's files back into a workspace at their paths. */
export async function restoreArtifact(ref: ArtifactRef, workspace: string): Promise<void> {
  await cp(ref.dir, workspace, { recursive: true, force: true, verbatimSymlinks: true });
}

/** The directory an artifact's one path was saved as (a deploy's release artifact). */
export function artifactPath(ref: ArtifactRef, path: string): string {
  return join(ref.dir, normalize(path.replace(/\/+$/, "")).split(sep).join(sep));
}

function cacheDir(dataDir: string, key: string): string {
  return join(dataDir, "pipelines", "cache", createHash("sha256").update(key).digest("hex"));
}

export async function restoreCache(dataDir: string, key: string, workspace: string): Promise<boolean> {
  const dir = cacheDir(dataDir, key);
  if (!(await exists(dir))) return false;
  await cp(dir, workspace, { recursive: true, force: true, verbatimSymlinks: true });
  return true;
}

/** Saves the paths under `key` unless that key is cached already; false when nothing was saved. */
export async function saveCache(
  dataDir: string,
  key: string,
  workspace: string,
  paths: string[],
): Promise<boolean> {
  const dir = cacheDir(dataDir, key);
  if (await exists(dir)) return false;
  const temp = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    const copied = await copyPaths(workspace, paths, temp, false);
    if (copied === 0) return false;
    await rename(temp, dir).catch(async (err: unknown) => {
      if (!(await exists(dir))) throw err;
    });
    return true;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
