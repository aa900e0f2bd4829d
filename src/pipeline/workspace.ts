/**
 * A run's checkout: a detached git worktree of a local repository at the run's commit (cheap: it
 * shares the repository's objects), or a clone of a URL. Removed when the run ends; artifacts and
 * caches are saved outside it.
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { runGit } from "../util/index.js";

/** No time limit: a clone or checkout of a large repository takes what it takes (a cancel ends the run). */
function git(args: string[], cwd?: string): Promise<string> {
  return runGit(args, { timeoutMs: 0, ...(cwd === undefined ? {} : { cwd }) });
}

export interface Checkout {
  dir: string;
  sha: string;
}

/** Checks out `sha` (or the repository's HEAD when null) into `dir`. */
export async function checkout(
  location: string,
  kind: "path" | "url",
  sha: string | null,
  dir: string,
): Promise<Checkout> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  await rm(dir, { recursive: true, force: true });
  if (kind === "path") {
    await git(["-C", location, "worktree", "prune"]);
    const target = sha ?? (await git(["-C", location, "rev-parse", "HEAD"]));
    await git(["-C", location, "worktree", "add", "--detach", "--force", dir, target]);
    return { dir, sha: await git(["-C", dir, "rev-parse", "HEAD"]) };
  }
  await git(["clone", "--quiet", "--no-checkout", location, dir]);
  await git(["-C", dir, "checkout", "--quiet", "--detach", sha ?? "HEAD"]);
  return { dir, sha: await git(["-C", dir, "rev-parse", "HEAD"]) };
}

export async function removeCheckout(location: string, kind: "path" | "url", dir: string): Promise<void> {
  if (kind === "path")
    await git(["-C", location, "worktree", "remove", "--force", dir]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  if (kind === "path") await git(["-C", location, "worktree", "prune"]).catch(() => undefined);
}

/** The commit and ref of a working tree, for `--local` runs. */
export async function describeWorkingTree(
  dir: string,
): Promise<{ sha: string | null; branch: string | null }> {
  try {
    const sha = await git(["-C", dir, "rev-parse", "HEAD"]);
    const branch = await git(["-C", dir, "rev-parse", "--abbrev-ref", "HEAD"]);
    return { sha, branch: branch === "HEAD" ? null : branch };
  } catch {
    return { sha: null, branch: null };
  }
}
