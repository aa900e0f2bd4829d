/**
 * Glob patterns for branch, tag and path filters (and the runner's file patterns), matched against
 * `/`-separated names: `main`, `release/1.2`, `src/app/main.ts`.
 *
 * - `*` matches any run of characters except `/`: `feature/*` matches `feature/x`, not `feature/x/y`.
 * - `**` matches any run of characters including `/`. As a whole segment it also matches no
 *   directory at all: `**\/*.md` matches `README.md` and `docs/a/b.md`; `docs/**` everything below
 *   `docs/`; `**.js` (GitHub's example) any `.js` file at any depth.
 * - `?` matches one character except `/`. Unlike GitHub Actions, where `?` means "zero or one of the
 *   preceding character": every other tool reads `?` as the shell does, and so do people.
 * - `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) match one character of (or not of) a set; a negated set
 *   never matches `/`. An unclosed `[` is a literal.
 * - `\` makes the next character literal (`\*`, `\[`, `\!`). Everything else is literal, regular-
 *   expression characters included, and matching is case-sensitive, as git refs and paths are.
 * - A leading `./` in a pattern is dropped. A leading `.` is not special: `*` matches `.github`.
 *
 * Node 20's `path.matchesGlob` is experimental and has different rules (no `**` inside a segment), so
 * the matcher is this small translation to an anchored regular expression.
 */
import { SlipwayError } from "../../util/index.js";

/**
 * Compiles a pattern. Compile once when matching many names.
 *
 * @throws SlipwayError("invalid_config") for a pattern no expression can represent (`[z-a]`).
 * @example
 *   compileGlob("src/**\/*.ts").test("src/app/main.ts"); // true
 */
export function compileGlob(pattern: string): RegExp {
  const text = pattern.startsWith("./") ? pattern.slice(2) : pattern;
  let source = "";
  for (let i = 0; i < text.length;) {
    const c = text[i] ?? "";
    if (c === "\\" && i + 1 < text.length) {
      source += escapeRegExp(text[i + 1] ?? "");
      i += 2;
    } else if (c === "*") {
      let end = i;
      while (text[end] === "*") end++;
      const wholeSegment = (i === 0 || text[i - 1] === "/") && text[end] === "/";
      if (end - i === 1) source += "[^/]*";
      else if (wholeSegment) {
        source += "(?:.*/)?"; // "**/": any number of directories, none included
        end++;
      } else source += ".*";
      i = end;
    } else if (c === "?") {
      source += "[^/]";
      i++;
    } else {
      const set = c === "[" ? readSet(text, i) : undefined;
      source += set ? set.source : escapeRegExp(c);
      i = set ? set.end : i + 1;
    }
  }
  try {
    return new RegExp(`^${source}$`, "su");
  } catch (cause) {
    throw new SlipwayError(
      "invalid_config",
      `invalid pattern ${JSON.stringify(pattern)}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/**
 * Whether a name matches a pattern.
 *
 * @example
 *   matchesGlob("release/*", "release/1.2");   // true
 *   matchesGlob("release/*", "release/1.2/rc"); // false
 */
export function matchesGlob(pattern: string, name: string): boolean {
  return compileGlob(pattern).test(name);
}

/** A `[…]` set starting at `start`, as a regular-expression class; undefined when it never closes. */
function readSet(text: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  const negated = text[i] === "!" || text[i] === "^";
  if (negated) i++;
  let body = "";
  for (let first = true; i < text.length; first = false) {
    const c = text[i] ?? "";
    if (c === "]" && !first) return { source: negated ? `[^/${body}]` : `[${body}]`, end: i + 1 };
    if (c === "\\" && i + 1 < text.length) {
      body += escapeInSet(text[i + 1] ?? "");
      i += 2;
    } else {
      // A "-" between two characters is a range; anywhere else it is literal, like every other special.
      const isRange = c === "-" && !first && i + 1 < text.length && text[i + 1] !== "]";
      body += isRange ? "-" : escapeInSet(c);
      i++;
    }
  }
  return undefined;
}

function escapeInSet(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

function escapeRegExp(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
