/**
 * fast-check arbitraries for slipway.yaml files: real examples mutated line by line (keys, values,
 * types, indentation, anchors and aliases, tags, duplicate keys, huge numbers), random YAML-ish text,
 * and byte-level damage (invalid UTF-8). Used by load.fuzz.test.ts.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");

/** The files mutations start from. */
export const SEEDS: readonly string[] = [
  read("../../examples/shop/slipway.yaml"),
  read("./testdata/product-example.yaml"),
  read("./testdata/pipelines-example.yaml"),
];

/** Pieces of YAML syntax and awkward values that parsers and schemas trip over. */
const TOKENS = [
  "&a ",
  "*a",
  "&b [1, 2]",
  "*b",
  "<<: *a",
  "!!binary aGk=",
  "!!js/function 'f'",
  "!!python/object:os.system x",
  "!t ",
  "!!str ",
  "!!int ",
  "!!set {a, b}",
  "!!omap [a: 1]",
  "? [a, b]\n: 1",
  ": ",
  "- ",
  "[",
  "]",
  "{",
  "}",
  "{}",
  "[]",
  "|",
  ">-",
  "#",
  "'",
  '"',
  "\t",
  "%YAML 1.1\n---\n",
  "---\n",
  "...\n",
  "1e400",
  "-1e400",
  "99999999999999999999999999",
  "0x7FFFFFFFFFFFFFFF",
  "-.inf",
  ".nan",
  "~",
  "null",
  "yes",
  "0o777",
  "2026-01-01T00:00:00Z",
  "__proto__",
  "constructor",
  "\u0000",
  "\uFEFF",
  "\u202E",
  "é",
  "🚀",
  "${{ env.X }}",
  "${{ needs.a.outputs.b }}",
  "x".repeat(300),
];

const token = fc.constantFrom(...TOKENS);
const word = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,12}$/);
const scalar = fc.oneof(
  token,
  word,
  fc.integer().map(String),
  fc.double().map(String),
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
);

type Mutation = (lines: string[]) => string[];

/** `index` folded into the lines' range. */
function at(items: readonly unknown[], index: number): number {
  return items.length === 0 ? 0 : index % items.length;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map(
    (i): Mutation =>
      (lines) =>
        lines.filter((_, k) => k !== at(lines, i)),
  ),
  fc.nat().map(
    (i): Mutation =>
      (lines) =>
        lines.flatMap((line, k) => (k === at(lines, i) ? [line, line] : [line])),
  ),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Mutation => (lines) => {
    const out = [...lines];
    const [a, b] = [at(out, i), at(out, j)];
    [out[a], out[b]] = [out[b] ?? "", out[a] ?? ""];
    return out;
  }),
  fc.tuple(fc.nat(), fc.integer({ min: -4, max: 4 })).map(
    ([i, shift]): Mutation =>
      (lines) =>
        lines.map((line, k) =>
          k !== at(lines, i) ? line : shift >= 0 ? " ".repeat(shift) + line : line.slice(-shift),
        ),
  ),
  fc.tuple(fc.nat(), fc.nat(), token).map(
    ([i, col, piece]): Mutation =>
      (lines) =>
        lines.map((line, k) =>
          k === at(lines, i)
            ? line.slice(0, col % (line.length + 1)) + piece + line.slice(col % (line.length + 1))
            : line,
        ),
  ),
  fc.tuple(fc.nat(), scalar).map(
    ([i, value]): Mutation =>
      (lines) =>
        lines.map((line, k) =>
          k === at(lines, i) && line.includes(": ") ? `${line.slice(0, line.indexOf(": "))}: ${value}` : line,
        ),
  ),
  fc.tuple(fc.nat(), word).map(
    ([i, key]): Mutation =>
      (lines) =>
        lines.map((line, k) =>
          k === at(lines, i) ? line.replace(/^(\s*(?:- )?)[^:#]+:/, `$1${key}:`) : line,
        ),
  ),
  // An anchor on one value (a block one included) and an alias to it a few lines on, possibly inside it.
  fc.tuple(fc.nat(), fc.nat({ max: 8 })).map(([i, distance]): Mutation => (lines) => {
    const a = at(lines, i);
    const b = Math.min(lines.length - 1, a + distance);
    return lines.map((line, k) => {
      if (k === a && /:(\s|$)/.test(line)) return line.replace(/:(\s|$)/, ": &x$1");
      if (k === b && k !== a && line.includes(":")) return `${line.slice(0, line.indexOf(":"))}: *x`;
      return line;
    });
  }),
);

/** A seed with one to six mutations applied. */
export const mutatedSource: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 6 }))
  .map(([seed, mutations]) => mutations.reduce((lines, m) => m(lines), seed.split("\n")).join("\n"));

/** Lines of random YAML-ish text. */
export const randomSource: fc.Arbitrary<string> = fc
  .array(
    fc
      .tuple(fc.nat({ max: 6 }), fc.array(fc.oneof(token, word, scalar), { maxLength: 4 }))
      .map(([indent, parts]) => " ".repeat(indent) + parts.join("")),
    { maxLength: 30 },
  )
  .map((lines) => lines.join("\n"));

export const anySource: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: mutatedSource },
  { weight: 1, arbitrary: randomSource },
);

/** A source's UTF-8 bytes with a few bytes replaced or inserted (most results are not UTF-8). */
export const damagedBytes: fc.Arbitrary<Buffer> = fc
  .tuple(
    mutatedSource,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x80, max: 0xff }), fc.boolean()), {
      minLength: 1,
      maxLength: 4,
    }),
  )
  .map(([source, edits]) => {
    const bytes = [...Buffer.from(source, "utf8")];
    for (const [position, byte, insert] of edits) {
      const index = bytes.length === 0 ? 0 : position % bytes.length;
      if (insert) bytes.splice(index, 0, byte);
      else bytes[index] = byte;
    }
    return Buffer.from(bytes);
  });
