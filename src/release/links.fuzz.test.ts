/**
 * Fuzz: random trees of directories and symlinks (targets made of `..`, `.`, names of directories and
 * of other links, sometimes absolute). Every link the release store keeps must resolve, by the real
 * kernel, inside the artifact. The artifact sits in directories holding the same names, so a link that
 * escapes lands on something that exists instead of failing to resolve.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { linkProblems } from "./links.js";
import { walkArtifact } from "./walk.js";

const DIRS = ["a", "a/b", "c", "c/a"];
const LINKS = ["l1", "a/l2", "a/b/l3", "c/l4"];
const ups = fc.integer({ min: 0, max: 3 }).map((n) => Array<string>(n).fill(".."));

/** Any mix of `..`, `.`, names and links. */
const randomTarget = fc.array(
  fc.oneof(
    { arbitrary: fc.constant(".."), weight: 4 },
    { arbitrary: fc.constantFrom("l1", "l2", "l3", "l4"), weight: 4 },
    { arbitrary: fc.constantFrom("a", "b", "c", ".", "x"), weight: 3 },
  ),
  { minLength: 1, maxLength: 5 },
);

/** The shape of an escape: climb, go through a link, climb again from where it led, name something. */
const throughLink = fc
  .tuple(
    ups,
    fc.constantFrom("l1", "a/l2", "a/b/l3", "c/l4", "a", "c/a"),
    ups,
    fc.constantFrom("x", "a", "."),
  )
  .map(([up, via, up2, name]) => [...up, via, ...up2, name]);

/** One target in twenty is absolute: always refused, so rarely worth a run. */
const target = fc
  .tuple(fc.integer({ min: 0, max: 19 }), fc.oneof(randomTarget, throughLink))
  .map(([dice, parts]) => (dice === 0 ? "/" : "") + parts.join("/"));

const tree = fc.record({
  links: fc.array(fc.tuple(fc.constantFrom(...LINKS), target), { minLength: 2, maxLength: 4 }),
});

/** Directories named like the tree's, and a file x, around the artifact: escapes find something. */
function decoy(dir: string): void {
  for (const d of DIRS) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "x"), "outside");
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

describe("symlinks kept in a release (fuzz)", () => {
  it("every kept link resolves inside the artifact", async () => {
    const base = mkdtempSync(join(tmpdir(), "slipway-links-fuzz-"));
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(tree, async ({ links }) => {
          run += 1;
          const outer = join(base, `r${run}`);
          const art = join(outer, "inner", "art");
          decoy(outer);
          decoy(join(outer, "inner"));
          mkdirSync(art, { recursive: true });
          writeFileSync(join(art, "x"), "inside");
          for (const d of DIRS) mkdirSync(join(art, d), { recursive: true });
          const made = new Set<string>();
          for (const [rel, to] of links) {
            if (made.has(rel)) continue;
            symlinkSync(to, join(art, rel));
            made.add(rel);
          }
          const walk = await walkArtifact(art, art, { special: "refuse" });
          const refused = new Set(linkProblems(walk.entries).map((p) => p.rel));
          const root = realpathSync(art);
          for (const rel of made) {
            if (refused.has(rel)) continue;
            let resolved: string;
            try {
              resolved = realpathSync(join(art, rel));
            } catch {
              continue; // dangling, a loop, or through a file: it reaches nothing at all
            }
            expect(inside(resolved, root), `${rel} -> ${resolved}`).toBe(true);
          }
          rmSync(outer, { recursive: true, force: true });
        }),
        { numRuns: 300, interruptAfterTimeLimit: 10_000 },
      );
    } finally {
      console.info(`symlink fuzz: ${run} trees`);
      rmSync(base, { recursive: true, force: true });
    }
  }, 30_000);
});
