/**
 * Git hooks that tell the control plane about new commits in a repository it watches by path, so a
 * local repository triggers pipelines the way a GitHub webhook does — without a forge.
 *
 * - `post-receive` (every repository): a `git push` into it reports each updated ref (stdin lines
 *   `<old> <new> <ref>`).
 * - `post-commit` (working repositories only): a `git commit` reports its branch moving from `HEAD~1`
 *   (or the zero id for a first commit) to `HEAD`. A detached HEAD reports nothing.
 *
 * Both are small POSIX sh scripts that hand the updates to `slipway-hook.mjs` next to them, run with
 * the node that runs Slipway (its absolute path). The sender POSTs them as JSON to
 * `<server>/hooks/local/<repository id>` with `X-Slipway-Hook-Token`, waits at most 2 s, prints one
 * line per started run (`slipway: started release #12`) and always exits 0: a hook never fails the
 * git operation.
 *
 * The hook holds only what it needs: its own token (`slw_hook_…`), which the server keeps as a SHA-256
 * hash and accepts for nothing but reporting pushes of this one repository. It never holds the webhook
 * secret that GitHub, GitLab or Gitea sign with. The sender is mode 0700 all the same.
 *
 * A hook that was already there is renamed to `<name>.slipway-chained` and runs first, with the same
 * stdin and arguments; its exit status is the hook's. Installing again only rewrites Slipway's files
 * (a hook that carries {@link HOOK_MARKER} is ours and is never chained). Removing deletes Slipway's
 * files and puts the chained hook back. Hooks are skipped inside a pipeline step (`SLIPWAY_RUN_ID` is
 * set), so a step that commits or pushes does not start runs of itself.
 *
 * The hooks directory is what git uses (`git rev-parse --git-path hooks`), so `core.hooksPath` is
 * honoured.
 */
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { runGit } from "../util/index.js";

/** Every file Slipway writes carries this; a hook with it is Slipway's own. */
export const HOOK_MARKER = "slipway-hook v1";
export const SENDER_FILE = "slipway-hook.mjs";
export const CHAINED_SUFFIX = ".slipway-chained";
export const HOOK_HEADER = "x-slipway-hook-token";
/** What hooks written by Slipway 0.1 sent: the repository's webhook secret itself. */
export const LEGACY_HOOK_HEADER = "x-slipway-hook-secret";
export const HOOK_TIMEOUT_MS = 2_000;

export type HookName = "post-receive" | "post-commit";

export interface HookTarget {
  /** Absolute path of the repository (working tree or bare). */
  location: string;
  repositoryId: string;
  /** The hook's own token (see the module comment); never the webhook secret. */
  token: string;
  /** The control plane's base URL as reachable from this machine, e.g. `http://127.0.0.1:7070`. */
  serverUrl: string;
  /** Default `process.execPath`. */
  nodePath?: string;
  timeoutMs?: number;
}

export interface InstalledHooks {
  hooksDir: string;
  bare: boolean;
  /** Paths of the hooks written: post-receive, and post-commit for a working repository. */
  hooks: string[];
  /** The hook that matters most: post-commit in a working repository, post-receive in a bare one. */
  main: string;
  /** Hooks that were there before and now run first, as `<name>.slipway-chained`. */
  chained: string[];
}

/** The URL the hooks POST to. */
export function hookEndpoint(serverUrl: string, repositoryId: string): string {
  return `${serverUrl.replace(/\/+$/, "")}/hooks/local/${encodeURIComponent(repositoryId)}`;
}

/** Where git looks for this repository's hooks, and whether it is bare. */
export async function hooksDirOf(location: string): Promise<{ hooksDir: string; bare: boolean }> {
  const dir = await git(location, ["rev-parse", "--git-path", "hooks"]);
  const bare = (await git(location, ["rev-parse", "--is-bare-repository"])) === "true";
  return { hooksDir: resolve(location, dir), bare };
}

/** Installs (or rewrites) Slipway's hooks; see the module comment. */
export async function installHooks(target: HookTarget): Promise<InstalledHooks> {
  const { hooksDir, bare } = await hooksDirOf(target.location);
  await mkdir(hooksDir, { recursive: true });
  const names: HookName[] = bare ? ["post-receive"] : ["post-receive", "post-commit"];
  const sender = join(hooksDir, SENDER_FILE);
  await writeAtomic(sender, senderScript(target), 0o700);
  const nodePath = target.nodePath ?? process.execPath;
  const hooks: string[] = [];
  const chained: string[] = [];
  for (const name of names) {
    const path = join(hooksDir, name);
    const existing = await readIfExists(path);
    if (existing !== undefined && !existing.includes(HOOK_MARKER)) {
      await rename(path, path + CHAINED_SUFFIX);
    }
    if (await exists(path + CHAINED_SUFFIX)) chained.push(path + CHAINED_SUFFIX);
    await writeAtomic(path, hookScript(name, path, sender, nodePath, target.repositoryId), 0o755);
    hooks.push(path);
  }
  const main = join(hooksDir, bare ? "post-receive" : "post-commit");
  return { hooksDir, bare, hooks, main, chained };
}

/**
 * Removes Slipway's hooks and puts chained ones back. A hook someone replaced since (it no longer
 * carries the marker) is left alone, and so is its chained predecessor. Missing files are fine.
 */
export async function removeHooks(location: string): Promise<{ removed: string[]; restored: string[] }> {
  const { hooksDir } = await hooksDirOf(location);
  const removed: string[] = [];
  const restored: string[] = [];
  for (const name of ["post-receive", "post-commit"] satisfies HookName[]) {
    const path = join(hooksDir, name);
    const text = await readIfExists(path);
    if (!text?.includes(HOOK_MARKER)) continue;
    await rm(path, { force: true });
    removed.push(path);
    if (await exists(path + CHAINED_SUFFIX)) {
      await rename(path + CHAINED_SUFFIX, path);
      restored.push(path);
    }
  }
  const sender = join(hooksDir, SENDER_FILE);
  if (await exists(sender)) {
    await rm(sender, { force: true });
    removed.push(sender);
  }
  return { removed, restored };
}

/**
 * What the installed sender reports to and with which token; undefined when Slipway's sender is not
 * installed, and `token: undefined` for a sender written by Slipway 0.1 (it held the webhook secret).
 */
export async function readInstalledSender(
  location: string,
): Promise<{ url: string | undefined; token: string | undefined } | undefined> {
  let text: string | undefined;
  try {
    const { hooksDir } = await hooksDirOf(location);
    text = await readIfExists(join(hooksDir, SENDER_FILE));
  } catch {
    return undefined;
  }
  if (!text?.includes(HOOK_MARKER)) return undefined;
  const literal = (name: string): string | undefined => {
    const match = new RegExp(`^const ${name} = ("(?:[^"\\\\]|\\\\.)*");$`, "m").exec(text)?.[1];
    if (match === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(match);
      return typeof value === "string" ? value : undefined;
    } catch {
      return undefined;
    }
  };
  return { url: literal("URL_"), token: literal("TOKEN") };
}

/** Whether Slipway's sender is installed in this repository (hooks are refreshed only then). */
export async function hooksInstalled(location: string): Promise<boolean> {
  try {
    const { hooksDir } = await hooksDirOf(location);
    return await exists(join(hooksDir, SENDER_FILE));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// The scripts.

/** Single-quoted for sh. */
function sh(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const ZERO_ID = "0".repeat(40);

export function hookScript(
  name: HookName,
  path: string,
  sender: string,
  nodePath: string,
  repositoryId: string,
): string {
  const chained = sh(path + CHAINED_SUFFIX);
  const send = `${sh(nodePath)} ${sh(sender)} ${name}`;
  const header = [
    "#!/bin/sh",
    `# ${HOOK_MARKER} (repository ${repositoryId}): tells Slipway about new commits. Managed by Slipway:`,
    `# removing the repository from Slipway deletes it and puts back the hook that was here before`,
    `# (${name}${CHAINED_SUFFIX}), which runs first. It never fails the git operation.`,
    "status=0",
  ];
  const missingNode = `echo "slipway: ${nodePath.replace(/["$`\\]/g, "")} is missing; add the repository again to refresh this hook" >&2`;
  if (name === "post-receive") {
    return [
      ...header,
      "input=$(cat)",
      `if [ -x ${chained} ]; then`,
      `  printf '%s\\n' "$input" | ${chained} "$@" || status=$?`,
      "fi",
      'if [ -n "$input" ] && [ -z "${SLIPWAY_RUN_ID:-}" ]; then',
      `  if [ -x ${sh(nodePath)} ]; then`,
      `    printf '%s\\n' "$input" | ${send} || true`,
      "  else",
      `    ${missingNode}`,
      "  fi",
      "fi",
      "exit $status",
      "",
    ].join("\n");
  }
  return [
    ...header,
    `if [ -x ${chained} ]; then`,
    `  ${chained} "$@" || status=$?`,
    "fi",
    'if [ -z "${SLIPWAY_RUN_ID:-}" ]; then',
    "  new=$(git rev-parse -q --verify HEAD 2>/dev/null) || exit $status",
    "  ref=$(git symbolic-ref -q HEAD 2>/dev/null) || exit $status",
    `  old=$(git rev-parse -q --verify 'HEAD~1' 2>/dev/null) || old=${ZERO_ID}`,
    `  if [ -x ${sh(nodePath)} ]; then`,
    `    printf '%s %s %s\\n' "$old" "$new" "$ref" | ${send} || true`,
    "  else",
    `    ${missingNode}`,
    "  fi",
    "fi",
    "exit $status",
    "",
  ].join("\n");
}

export function senderScript(target: HookTarget): string {
  const url = hookEndpoint(target.serverUrl, target.repositoryId);
  const timeoutMs = target.timeoutMs ?? HOOK_TIMEOUT_MS;
  return `// ${HOOK_MARKER} (repository ${target.repositoryId}): sends ref updates to Slipway. Written by Slipway;
// it is rewritten when the repository is added again. Always exits 0: a hook never fails git.
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";

const URL_ = ${JSON.stringify(url)};
const TOKEN = ${JSON.stringify(target.token)};
const TIMEOUT_MS = ${timeoutMs};

const hook = process.argv[2] === "post-commit" ? "post-commit" : "post-receive";
let input = "";
try {
  input = readFileSync(0, "utf8");
} catch {
  // no stdin
}
const updates = [];
for (const line of input.split("\\n")) {
  const [before, after, ref] = line.trim().split(/\\s+/);
  if (before && after && ref) updates.push({ before, after, ref });
}
if (updates.length > 0) {
  let pusher = process.env.USER || process.env.USERNAME || "unknown";
  try {
    pusher = userInfo().username || pusher;
  } catch {
    // keep the environment's name
  }
  try {
    const res = await fetch(URL_, {
      method: "POST",
      headers: { "content-type": "application/json", ${JSON.stringify(HOOK_HEADER)}: TOKEN },
      body: JSON.stringify({ hook, pusher, updates }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    let body = {};
    try {
      body = JSON.parse(await res.text());
    } catch {
      // not JSON
    }
    if (res.ok) {
      for (const run of body.runs ?? []) console.log(\`slipway: started \${run.pipeline} #\${run.number}\`);
    } else if (res.status !== 409) {
      console.log(\`slipway: the control plane refused the update (\${res.status}\${body.detail ? ": " + body.detail : ""})\`);
    }
  } catch (err) {
    const why =
      err && err.name === "TimeoutError"
        ? \`no answer within \${TIMEOUT_MS / 1000} s; runs may still start\`
        : (err && err.cause && err.cause.code) || (err && err.message) || String(err);
    console.log(\`slipway: could not reach the control plane at \${URL_} (\${why})\`);
  }
}
process.exit(0);
`;
}

// ---------------------------------------------------------------------------------------------------
// Files and git.

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.slipway-tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function git(location: string, args: string[]): Promise<string> {
  return runGit(["-C", location, ...args], { timeoutMs: 10_000 });
}
