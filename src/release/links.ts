/**
 * Symlinks inside an artifact. A release is a copy that must not change when anything outside it
 * does, so a link is kept (as a link) only when it resolves inside the artifact; one that points
 * outside, is absolute, or loops is refused.
 *
 * Resolving is done the way the kernel does it, over the listed entries: a `..` after a link climbs
 * from where the link leads, not from where it sits (`a -> .` then `a/../x` is outside the artifact,
 * although the text `a/../x` looks inside). Pure: no filesystem access.
 */
import type { ArtifactEntry } from "./walk.js";

/** Links followed while resolving one target; the kernel's own limit is 40. */
const MAX_HOPS = 40;

export interface LinkProblem {
  rel: string;
  target: string;
  reason: "absolute" | "outside" | "loop";
}

type Resolved = { parts: string[] } | { reason: LinkProblem["reason"] };

function resolveTarget(
  links: ReadonlyMap<string, string>,
  from: readonly string[],
  target: string,
  hops: number,
): Resolved {
  if (target.startsWith("/")) return { reason: "absolute" };
  let parts = [...from];
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return { reason: "outside" };
      parts.pop();
      continue;
    }
    parts.push(part);
    const next = links.get(parts.join("/"));
    if (next === undefined) continue;
    if (hops >= MAX_HOPS) return { reason: "loop" };
    const resolved = resolveTarget(links, parts.slice(0, -1), next, hops + 1);
    if ("reason" in resolved) return resolved;
    parts = resolved.parts;
  }
  return { parts };
}

/**
 * The links among `entries` that do not stay inside the artifact, in entry order (empty when all do).
 *
 * @example
 *   linkProblems([{ kind: "link", rel: "cfg", target: "../../etc" }]) // [{ rel: "cfg", reason: "outside", … }]
 */
export function linkProblems(entries: readonly ArtifactEntry[]): LinkProblem[] {
  const links = new Map<string, string>();
  for (const e of entries) if (e.kind === "link") links.set(e.rel, e.target);
  const problems: LinkProblem[] = [];
  for (const [rel, target] of links) {
    const resolved = resolveTarget(links, rel.split("/").slice(0, -1), target, 0);
    if ("reason" in resolved) problems.push({ rel, target, reason: resolved.reason });
  }
  return problems;
}

export function describeLinkProblem(p: LinkProblem): string {
  switch (p.reason) {
    case "absolute":
      return `${p.rel} -> ${p.target} is an absolute symlink; make it relative to stay inside the artifact`;
    case "outside":
      return `${p.rel} -> ${p.target} points outside the artifact`;
    case "loop":
      return `${p.rel} -> ${p.target} is a symlink loop`;
    default: {
      const unknown: never = p.reason;
      return String(unknown);
    }
  }
}
