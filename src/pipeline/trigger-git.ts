/**
 * The triggers' git: every git command they run (with a timeout, and an error that says which command
 * and why), refs that are safe to hand to git, `ls-remote` output, where a watched repository is, what
 * a branch or tag names, a repository's default branch, and the paths a local push changed.
 */
import type { WatchedRepository } from "../store/index.js";
import { runGit, SlipwayError } from "../util/index.js";

/** `git ls-remote` output → ref → commit (an annotated tag's peeled commit, not the tag object). */
export function parseLsRemote(text: string): Record<string, string> {
  const heads: Record<string, string> = {};
  const peeled: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const [sha, ref] = line.trim().split(/\s+/);
    if (sha === undefined || ref === undefined || !/^[0-9a-f]{40,64}$/.test(sha)) continue;
    if (ref.endsWith("^{}")) peeled[ref.slice(0, -3)] = sha;
    else if (ref.startsWith("refs/heads/") || ref.startsWith("refs/tags/")) heads[ref] = sha;
  }
  for (const [ref, sha] of Object.entries(peeled)) if (ref in heads) heads[ref] = sha;
  return heads;
}

/**
 * The delivery id of a push Slipway saw itself (local hook, poller): `local:<repository>:<sha>:<ref>`.
 * The repository is part of it because the same commit can reach two watched repositories (a commit
 * in a working repository, then a push of it into a watched bare one), and each should start runs.
 */
export function pushDeliveryId(
  source: "local" | "poll",
  repositoryId: string,
  sha: string,
  ref: string,
): string {
  return `${source}:${repositoryId}:${sha}:${ref}`;
}

export function isZeroId(id: string): boolean {
  return /^0+$/.test(id);
}

/** A git command for the triggers: `runGit` (src/util/git.ts) with their 15 s default. */
export function git(args: string[], timeoutMs = 15_000, signal?: AbortSignal): Promise<string> {
  return runGit(args, { timeoutMs, ...(signal === undefined ? {} : { signal }) });
}

export async function gitOrUndefined(args: string[]): Promise<string | undefined> {
  try {
    return await git(args);
  } catch {
    return undefined;
  }
}

/** Refs that are safe to hand to git: no option look-alikes, nothing git refuses in a ref. */
export function isSafeRef(ref: string): boolean {
  if (ref === "" || ref.length > 1024 || ref.startsWith("-") || ref.includes("..") || ref.includes("//")) {
    return false;
  }
  if (/[\s~^:?*[\\]/.test(ref) || ref.endsWith("/") || ref.endsWith(".lock") || ref.endsWith("."))
    return false;
  for (let i = 0; i < ref.length; i += 1) {
    const code = ref.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

/** The commit a branch or tag names in the repository. */
export async function resolveRef(repository: WatchedRepository, ref: string): Promise<string> {
  const what = ref.startsWith("refs/tags/")
    ? `tag ${ref.slice(10)}`
    : `branch ${ref.replace(/^refs\/heads\//, "")}`;
  if (repository.kind === "path") {
    const sha = await gitOrUndefined([
      "-C",
      repository.location,
      "rev-parse",
      "--verify",
      "-q",
      `${ref}^{commit}`,
    ]);
    if (sha === undefined)
      throw new SlipwayError("invalid_request", `${what} is not in repository ${repository.name}`);
    return sha;
  }
  let heads: Record<string, string>;
  try {
    heads = parseLsRemote(await git(["ls-remote", "--", repository.location, ref]));
  } catch (err) {
    throw new SlipwayError(
      "invalid_request",
      `cannot read ${what} of repository ${repository.name}: ${(err as Error).message}`,
    );
  }
  const sha = heads[ref];
  if (sha === undefined)
    throw new SlipwayError("invalid_request", `${what} is not in repository ${repository.name}`);
  return sha;
}

/** The default branch and its commit; nulls when git cannot tell (the engine then builds HEAD). */
export async function defaultHead(
  repository: WatchedRepository,
): Promise<{ ref: string | null; sha: string | null }> {
  if (repository.kind === "path") {
    const ref = (await gitOrUndefined(["-C", repository.location, "symbolic-ref", "-q", "HEAD"])) ?? null;
    const sha =
      (await gitOrUndefined(["-C", repository.location, "rev-parse", "--verify", "-q", "HEAD^{commit}"])) ??
      null;
    return { ref: ref?.startsWith("refs/heads/") === true ? ref : null, sha };
  }
  const text = await gitOrUndefined(["ls-remote", "--symref", "--", repository.location, "HEAD"]);
  if (text === undefined) return { ref: null, sha: null };
  const ref = /^ref:\s+(refs\/heads\/\S+)\s+HEAD$/m.exec(text)?.[1] ?? null;
  const sha = /^([0-9a-f]{40,64})\s+HEAD$/m.exec(text)?.[1] ?? null;
  return { ref, sha };
}

/** An absolute path of a git repository (kind path), or a URL git can clone (kind url). */
export async function checkLocation(location: string): Promise<{ location: string; kind: "path" | "url" }> {
  const text = location.trim();
  if (text.startsWith("/")) {
    const gitDir = await gitOrUndefined(["-C", text, "rev-parse", "--git-dir"]);
    if (gitDir === undefined) {
      throw new SlipwayError("invalid_request", `${text} is not a git repository`, {
        hint: "give the path of a repository (a working tree or a bare one), or a URL to poll",
      });
    }
    const top = await gitOrUndefined(["-C", text, "rev-parse", "--show-toplevel"]);
    return {
      location: top !== undefined && top !== "" ? top : text.replace(/\/+$/, "") || "/",
      kind: "path",
    };
  }
  if (/^(https?|ssh|git|file):\/\/\S+$/.test(text) || /^[\w.-]+@[\w.-]+:\S+$/.test(text)) {
    return { location: text, kind: "url" };
  }
  throw new SlipwayError(
    "invalid_request",
    `location ${JSON.stringify(location)} is neither an absolute path nor a URL (https://, ssh://, git://, file:// or user@host:path)`,
  );
}
