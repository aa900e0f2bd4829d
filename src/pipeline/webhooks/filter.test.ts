import { describe, expect, test } from "vitest";
import { createPatternList, explainPushMatch, matchesPush } from "./filter.js";
import type { PushEvent } from "./types.js";

function branchPush(branch: string, changedPaths: string[] = ["src/app.ts"], complete = true): PushEvent {
  return {
    kind: "push",
    provider: "github",
    deliveryId: "d1",
    ref: `refs/heads/${branch}`,
    branch,
    sha: "a".repeat(40),
    before: "b".repeat(40),
    repository: { name: "octo-org/shop", url: "https://github.com/octo-org/shop.git" },
    pusher: "octocat",
    changedPaths,
    changedPathsComplete: complete,
    created: false,
    deleted: false,
  };
}

function tagPush(tag: string): PushEvent {
  const { branch: _, ...push } = branchPush("x", []);
  return { ...push, ref: `refs/tags/${tag}`, tag };
}

describe("matchesPush: refs", () => {
  test("matches every branch and tag without branch or tag lists", () => {
    expect(matchesPush({}, branchPush("anything/at/all"))).toBe(true);
    expect(matchesPush({}, tagPush("v1"))).toBe(true);
    expect(matchesPush({ branches: [], tags: [] }, tagPush("v1"))).toBe(true);
  });

  test("with only branches, matches listed branches and no tags", () => {
    const filter = { branches: ["main", "release/*"] };
    expect(matchesPush(filter, branchPush("main"))).toBe(true);
    expect(matchesPush(filter, branchPush("release/1.2"))).toBe(true);
    expect(matchesPush(filter, branchPush("release/1.2/hotfix"))).toBe(false);
    expect(matchesPush(filter, branchPush("feature/x"))).toBe(false);
    expect(explainPushMatch(filter, tagPush("v1.0.0"))).toEqual({
      matched: false,
      reason: "tag v1.0.0 was pushed, but the filter lists only branches",
    });
  });

  test("with only tags, matches listed tags and no branches", () => {
    const filter = { tags: ["v*.*.*", "!v*-rc*"] };
    expect(matchesPush(filter, tagPush("v1.2.0"))).toBe(true);
    expect(matchesPush(filter, tagPush("v1.2.0-rc1"))).toBe(false);
    expect(explainPushMatch(filter, branchPush("main"))).toEqual({
      matched: false,
      reason: "branch main was pushed, but the filter lists only tags",
    });
  });

  test("with both, checks each push against its own list", () => {
    const filter = { branches: ["main"], tags: ["v*"] };
    expect(matchesPush(filter, branchPush("main"))).toBe(true);
    expect(matchesPush(filter, tagPush("v2"))).toBe(true);
    expect(explainPushMatch(filter, branchPush("dev"))).toEqual({
      matched: false,
      reason: "branch dev matches none of main",
    });
    expect(explainPushMatch(filter, tagPush("latest"))).toEqual({
      matched: false,
      reason: "tag latest matches none of v*",
    });
  });

  test("reads negations in order: a later pattern includes again", () => {
    const filter = { branches: ["releases/**", "!releases/**-alpha", "releases/special-alpha"] };
    expect(matchesPush(filter, branchPush("releases/10"))).toBe(true);
    expect(matchesPush(filter, branchPush("releases/beta/3-alpha"))).toBe(false);
    expect(matchesPush(filter, branchPush("releases/special-alpha"))).toBe(true);
  });

  test("reads a list of only exclusions as everything except them", () => {
    expect(matchesPush({ branches: ["!gh-pages"] }, branchPush("main"))).toBe(true);
    expect(matchesPush({ branches: ["!gh-pages"] }, branchPush("gh-pages"))).toBe(false);
  });

  test("never matches a deleted branch or tag", () => {
    expect(explainPushMatch({}, { ...branchPush("old"), deleted: true })).toEqual({
      matched: false,
      reason: "refs/heads/old was deleted; deletions start nothing",
    });
  });
});

describe("matchesPush: paths", () => {
  const filter = { branches: ["main"], paths: ["src/**", "!src/**/*.md", "package.json"] };

  test("matches when at least one changed path matches and is not excluded", () => {
    expect(explainPushMatch(filter, branchPush("main", ["README.md", "src/cart.ts"]))).toEqual({
      matched: true,
      reason: "branch main matches main, and src/cart.ts matches src/**, !src/**/*.md, package.json",
    });
    expect(matchesPush(filter, branchPush("main", ["package.json"]))).toBe(true);
  });

  test("does not match when every changed path is outside or excluded", () => {
    expect(explainPushMatch(filter, branchPush("main", ["docs/a.md", "src/notes/b.md"]))).toEqual({
      matched: false,
      reason: "none of the 2 changed paths matches src/**, !src/**/*.md, package.json",
    });
    expect(explainPushMatch({ paths: ["src/**"] }, branchPush("main", []))).toEqual({
      matched: false,
      reason: "none of the 0 changed paths matches src/**",
    });
  });

  test("applies the branch filter before the path filter", () => {
    expect(matchesPush(filter, branchPush("dev", ["src/cart.ts"]))).toBe(false);
  });

  test("does not apply the path filter when the changed paths are incomplete", () => {
    expect(explainPushMatch(filter, branchPush("main", ["docs/a.md"], false))).toEqual({
      matched: true,
      reason:
        "branch main matches main; the list of changed files is incomplete, so the path filter is not applied",
    });
  });

  test("does not apply the path filter to tag pushes, as GitHub does not", () => {
    expect(matchesPush({ tags: ["v*"], paths: ["src/**"] }, tagPush("v1"))).toBe(true);
  });

  test("reads an exclusion-only path list as everything except", () => {
    const docsOnly = branchPush("main", ["docs/a.md", "docs/b.md"]);
    expect(matchesPush({ paths: ["!docs/**"] }, docsOnly)).toBe(false);
    expect(matchesPush({ paths: ["!docs/**"] }, branchPush("main", ["docs/a.md", "src/x.ts"]))).toBe(true);
  });
});

describe("createPatternList", () => {
  test("lets the last matching pattern decide", () => {
    const inDocs = createPatternList(["docs/**", "!docs/drafts/**", "docs/drafts/final.md"]);
    expect(["docs/guide.md", "docs/drafts/x.md", "docs/drafts/final.md", "src/a.ts"].map(inDocs)).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  test("shortens long lists in reasons", () => {
    const branches = ["a", "b", "c", "d", "e", "f", "g"];
    expect(explainPushMatch({ branches }, branchPush("main")).reason).toBe(
      "branch main matches none of a, b, c, d, e, … (7 patterns)",
    );
  });
});
