import { describe, expect, test } from "vitest";
import { SlipwayError } from "../../util/index.js";
import { compileGlob, matchesGlob } from "./glob.js";

describe("matchesGlob", () => {
  test.each([
    // * stays within a segment
    ["main", "main", true],
    ["main", "mainline", false],
    ["feature/*", "feature/login", true],
    ["feature/*", "feature/login/v2", false],
    ["feature/*", "feature/", true],
    ["*", ".github", true],
    ["*.md", "docs/a.md", false],
    ["v*", "v1.2.0", true],
    // ** crosses segments, and as a whole segment can match none
    ["feature/**", "feature/login/v2", true],
    ["**", "any/thing/at/all", true],
    ["**/*.md", "README.md", true],
    ["**/*.md", "docs/guide/intro.md", true],
    ["**/*.md", "docs/guide/intro.mdx", false],
    ["docs/**", "docs/a/b/c.txt", true],
    ["docs/**", "documentation/a.txt", false],
    ["src/**/test/*.ts", "src/test/a.ts", true],
    ["src/**/test/*.ts", "src/a/b/test/a.ts", true],
    ["src/**/test/*.ts", "src/a/b/test/sub/a.ts", false],
    ["**.js", "lib/deep/x.js", true],
    ["a**b", "a/x/b", true],
    // ? is one character, not /
    ["v?.0", "v1.0", true],
    ["v?.0", "v10.0", false],
    ["a?b", "a/b", false],
    ["?", "é", true],
    ["?", "🔑", true],
    // sets
    ["v[0-9].*", "v1.x", true],
    ["v[0-9].*", "va.x", false],
    ["[!a]*", "b/x", false],
    ["[!a]x", "bx", true],
    ["[!a]x", "ax", false],
    ["[^a]x", "/x", false],
    ["[]a]", "]", true],
    ["[a-]", "-", true],
    ["[a\\]]", "]", true],
    ["[abc", "[abc", true],
    // literals and escapes
    ["release-1.2+build(3)", "release-1.2+build(3)", true],
    ["release-1.2+build(3)", "release-1x2+build(3)", false],
    ["a.b", "axb", false],
    ["\\*", "*", true],
    ["\\*", "x", false],
    ["\\!important", "!important", true],
    ["$^|{}", "$^|{}", true],
    ["./src/*.ts", "src/a.ts", true],
    ["Main", "main", false],
    ["docs/*", "docs/line\nbreak", true],
  ])("%j on %j is %s", (pattern, name, expected) => {
    expect(matchesGlob(pattern, name)).toBe(expected);
  });

  test("compiles to an anchored expression that can be reused", () => {
    const glob = compileGlob("src/**/*.ts");
    expect(["src/a.ts", "src/x/y.ts", "lib/a.ts", "src/a.tsx"].map((n) => glob.test(n))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  test("refuses a pattern no expression can represent", () => {
    expect(() => compileGlob("[z-a]")).toThrow(SlipwayError);
    expect(() => compileGlob("[z-a]")).toThrow(/invalid pattern "\[z-a\]"/);
  });
});
