/**
 * Does a push start a pipeline? GitHub Actions' `on.push` rules, which most people already know:
 *
 * - No `branches` and no `tags`: every branch and tag push matches.
 * - Only `branches`: tag pushes never match (and only listed branches do). Only `tags`: branch pushes
 *   never match. Both: each push is checked against its own list.
 * - `paths`: a branch push matches when at least one changed path matches the list. Paths are not
 *   checked for tag pushes (a tag changes no files). When the provider's list of changed files is
 *   incomplete (see PushEvent.changedPathsComplete), the path filter is not applied and the push
 *   matches: running once too often beats silently skipping a change.
 * - Each list is read in order: a pattern matches, a later `!pattern` excludes again, a later pattern
 *   can include again (`["docs/**", "!docs/drafts/**", "docs/drafts/final.md"]`). A list of only
 *   negative patterns means "everything except" — GitHub rejects such a list; here it reads as it does.
 * - An empty list is the same as no list (config validation should refuse one anyway).
 * - A deleted branch or tag never matches: there is nothing to build.
 */
import { compileGlob } from "./glob.js";
import type { PushEvent, PushFilter, PushMatch } from "./types.js";

/**
 * Whether the push should start a pipeline with this filter.
 *
 * @example
 *   matchesPush({ branches: ["main", "release/*"], paths: ["src/**", "!src/**\/*.md"] }, push);
 */
export function matchesPush(filter: PushFilter, push: PushEvent): boolean {
  return explainPushMatch(filter, push).matched;
}

/**
 * {@link matchesPush} with the reason, for the run page and for "why did my pipeline not run?".
 *
 * @example
 *   explainPushMatch({ tags: ["v*"] }, push);
 *   // { matched: false, reason: "branch main was pushed, but the filter lists only tags" }
 */
/** What a match reads of a push; a webhook's PushEvent, a local hook's push and a polled one all have it. */
export type MatchedPush = Pick<
  PushEvent,
  "ref" | "branch" | "tag" | "deleted" | "changedPaths" | "changedPathsComplete"
>;

export function explainPushMatch(filter: PushFilter, push: MatchedPush): PushMatch {
  const branches = nonEmpty(filter.branches);
  const tags = nonEmpty(filter.tags);
  const paths = nonEmpty(filter.paths);
  if (push.deleted) return no(`${push.ref} was deleted; deletions start nothing`);
  if (push.tag !== undefined) {
    const tag = push.tag;
    if (!tags)
      return branches ? no(`tag ${tag} was pushed, but the filter lists only branches`) : yes(`tag ${tag}`);
    return createPatternList(tags)(tag)
      ? yes(`tag ${tag} matches ${list(tags)}`)
      : no(`tag ${tag} matches none of ${list(tags)}`);
  }
  if (push.branch === undefined) return no(`${push.ref} is neither a branch nor a tag`);
  const branch = push.branch;
  if (!branches && tags) return no(`branch ${branch} was pushed, but the filter lists only tags`);
  if (branches && !createPatternList(branches)(branch))
    return no(`branch ${branch} matches none of ${list(branches)}`);
  const what = branches ? `branch ${branch} matches ${list(branches)}` : `branch ${branch}`;
  if (!paths) return yes(what);
  if (!push.changedPathsComplete) {
    return yes(`${what}; the list of changed files is incomplete, so the path filter is not applied`);
  }
  const matchesPath = createPatternList(paths);
  const hit = push.changedPaths.find(matchesPath);
  if (hit === undefined) {
    const count = push.changedPaths.length;
    return no(`none of the ${count} changed path${count === 1 ? "" : "s"} matches ${list(paths)}`);
  }
  return yes(`${what}, and ${hit} matches ${list(paths)}`);
}

/**
 * An ordered list of patterns as a predicate: the last pattern that matches decides, `!` excluding;
 * a list of only exclusions starts from "everything".
 *
 * @example
 *   const inDocs = createPatternList(["docs/**", "!docs/drafts/**"]);
 *   inDocs("docs/guide.md");    // true
 *   inDocs("docs/drafts/x.md"); // false
 */
export function createPatternList(patterns: readonly string[]): (name: string) => boolean {
  const compiled = patterns.map((p) =>
    p.startsWith("!")
      ? { exclude: true, glob: compileGlob(p.slice(1)) }
      : { exclude: false, glob: compileGlob(p) },
  );
  const startsMatched = compiled.every((p) => p.exclude);
  return (name) => {
    let matched = startsMatched;
    for (const { exclude, glob } of compiled) {
      if (matched === exclude && glob.test(name)) matched = !exclude;
    }
    return matched;
  };
}

function nonEmpty(patterns: readonly string[] | undefined): readonly string[] | undefined {
  return patterns && patterns.length > 0 ? patterns : undefined;
}

function list(patterns: readonly string[]): string {
  const shown = patterns.slice(0, 5).join(", ");
  return patterns.length > 5 ? `${shown}, … (${patterns.length} patterns)` : shown;
}

function yes(reason: string): PushMatch {
  return { matched: true, reason };
}

function no(reason: string): PushMatch {
  return { matched: false, reason };
}
