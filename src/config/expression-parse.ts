/**
 * Parsing pipeline expressions (the language is described in expression.ts, its public face): a
 * tokenizer, a recursive-descent parser that knows every name and function, and the `${{ … }}` splitter.
 * Every problem is an {@link ExpressionError} with the position where it was found.
 */
import { SlipwayError } from "../util/index.js";
import { suggestKey } from "./suggest.js";

export type ExpressionValue = string | number | boolean | null;

export type BinaryOperator = "==" | "!=" | "&&" | "||";

/** `position` is the 0-based offset in the text that was parsed (the whole string for templates). */
export type Expression =
  | { type: "literal"; value: string | number | boolean; position: number }
  | { type: "reference"; path: readonly string[]; position: number }
  | { type: "call"; name: FunctionName; args: readonly Expression[]; position: number }
  | { type: "not"; operand: Expression; position: number }
  | { type: "binary"; operator: BinaryOperator; left: Expression; right: Expression; position: number };

/** How many arguments each function takes. */
export const FUNCTIONS = {
  success: [0, 0],
  failure: [0, 0],
  always: [0, 0],
  cancelled: [0, 0],
  startsWith: [2, 2],
  contains: [2, 2],
  hashFiles: [1, Infinity],
} as const satisfies Record<string, readonly [number, number]>;

export type FunctionName = keyof typeof FUNCTIONS;

/** Functions that read how the run is going; they belong in `if:` conditions. */
export const STATUS_FUNCTIONS: readonly FunctionName[] = ["success", "failure", "always", "cancelled"];

/** The names an expression may read, by their first part. */
const NAME_FORMS: Readonly<Record<string, string>> = {
  branch: "branch",
  tag: "tag",
  ref: "ref",
  event: "event",
  sha: "sha",
  run: "run.number",
  inputs: "inputs.NAME",
  env: "env.NAME",
  needs: "needs.JOB.result or needs.JOB.outputs.NAME",
};
const ROOT_NAMES = Object.keys(NAME_FORMS);

/** A text that does not parse: `problem` says what was wrong at `position` (0-based). */
export class ExpressionError extends SlipwayError {
  readonly position: number;
  readonly problem: string;

  constructor(problem: string, position: number) {
    super("invalid_config", `${problem} at character ${position + 1}`);
    this.position = position;
    this.problem = problem;
  }
}

type Punctuation = "(" | ")" | "," | "!" | BinaryOperator;

type Token =
  | { kind: "string"; value: string; start: number }
  | { kind: "number"; value: number; start: number }
  | { kind: "name"; segments: string[]; start: number }
  | { kind: "punct"; value: Punctuation; start: number }
  | { kind: "end"; start: number };

const NAME = /[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*/y;
const NUMBER = /-?\d+(?:\.\d+)?/y;
const OPERATORS: readonly Punctuation[] = ["==", "!=", "&&", "||", "(", ")", ",", "!"];
const MISTAKES: Readonly<Record<string, string>> = {
  "=": 'unexpected "="; compare with ==',
  "&": 'unexpected "&"; write && for "and"',
  "|": 'unexpected "|"; write || for "or"',
  '"': "text is written in single quotes, e.g. 'main'",
  "<": 'unsupported operator "<"; expressions compare with == and != only',
  ">": 'unsupported operator ">"; expressions compare with == and != only',
};

function readString(text: string, start: number, end: number): { value: string; next: number } {
  let value = "";
  let i = start + 1;
  while (i < end) {
    const char = text[i];
    if (char === "'") {
      if (text[i + 1] !== "'") return { value, next: i + 1 };
      i += 2;
      value += "'";
      continue;
    }
    value += char ?? "";
    i++;
  }
  throw new ExpressionError("text started with ' is never closed", start);
}

function matchAt(pattern: RegExp, text: string, at: number, end: number): string | undefined {
  pattern.lastIndex = at;
  const match = pattern.exec(text)?.[0];
  return match !== undefined && at + match.length <= end ? match : undefined;
}

/** Tokens of `text` between `start` and `end`, positions relative to the whole text. */
function tokenize(text: string, start: number, end: number): Token[] {
  const tokens: Token[] = [];
  let i = start;
  while (i < end) {
    const char = text[i] ?? "";
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    if (char === "'") {
      const { value, next } = readString(text, i, end);
      tokens.push({ kind: "string", value, start: i });
      i = next;
      continue;
    }
    const number = matchAt(NUMBER, text, i, end);
    if (number !== undefined) {
      tokens.push({ kind: "number", value: Number(number), start: i });
      i += number.length;
      continue;
    }
    const name = matchAt(NAME, text, i, end);
    if (name !== undefined) {
      if (text[i + name.length] === ".")
        throw new ExpressionError('expected a name after "."', i + name.length);
      tokens.push({ kind: "name", segments: name.split("."), start: i });
      i += name.length;
      continue;
    }
    const operator = OPERATORS.find((op) => text.startsWith(op, i) && i + op.length <= end);
    if (operator === undefined) throw new ExpressionError(MISTAKES[char] ?? `unexpected "${char}"`, i);
    tokens.push({ kind: "punct", value: operator, start: i });
    i += operator.length;
  }
  tokens.push({ kind: "end", start: end });
  return tokens;
}

function describeToken(token: Token): string {
  switch (token.kind) {
    case "string":
      return `'${token.value}'`;
    case "number":
      return String(token.value);
    case "name":
      return `"${token.segments.join(".")}"`;
    case "punct":
      return `"${token.value}"`;
    case "end":
      return "the end";
  }
}

/** Checks a dotted name against the forms the language knows, so a typo fails when the config is read. */
function checkName(segments: readonly string[], position: number): void {
  const [root = "", first, second] = segments;
  const length = segments.length;
  const valid: Readonly<Record<string, boolean>> = {
    run: length === 2 && first === "number",
    inputs: length === 2,
    env: length === 2,
    needs: (length === 3 && second === "result") || (length === 4 && second === "outputs"),
  };
  if (valid[root] ?? (Object.hasOwn(NAME_FORMS, root) && length === 1)) return;
  const written = segments.join(".");
  const form = Object.hasOwn(NAME_FORMS, root) ? NAME_FORMS[root] : undefined;
  if (form !== undefined) throw new ExpressionError(`unknown name "${written}"; expected ${form}`, position);
  const suggestion = suggestKey(root, ROOT_NAMES);
  const hint =
    suggestion === undefined
      ? `; expected ${Object.values(NAME_FORMS).join(", ")}`
      : ` (did you mean "${suggestion}"?)`;
  throw new ExpressionError(`unknown name "${written}"${hint}`, position);
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): Expression {
    const first = this.peek();
    if (first.kind === "end") throw new ExpressionError("expected an expression, found nothing", first.start);
    const expression = this.parseOr();
    const rest = this.peek();
    if (rest.kind !== "end") {
      const hint = rest.kind === "punct" ? "" : "; join conditions with && or ||";
      throw new ExpressionError(`unexpected ${describeToken(rest)}${hint}`, rest.start);
    }
    return expression;
  }

  private peek(): Token {
    return this.tokens[this.index] ?? { kind: "end", start: 0 };
  }

  private take(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.index++;
    return token;
  }

  private isPunct(value: Punctuation): boolean {
    const token = this.peek();
    return token.kind === "punct" && token.value === value;
  }

  private parseBinary(operators: readonly BinaryOperator[], operand: () => Expression): Expression {
    let left = operand();
    for (;;) {
      const token = this.peek();
      if (token.kind !== "punct" || !operators.includes(token.value as BinaryOperator)) return left;
      this.take();
      const right = operand();
      left = { type: "binary", operator: token.value as BinaryOperator, left, right, position: token.start };
    }
  }

  private parseOr(): Expression {
    return this.parseBinary(["||"], () => this.parseAnd());
  }

  private parseAnd(): Expression {
    return this.parseBinary(["&&"], () => this.parseEquality());
  }

  private parseEquality(): Expression {
    return this.parseBinary(["==", "!="], () => this.parseUnary());
  }

  private parseUnary(): Expression {
    if (!this.isPunct("!")) return this.parsePrimary();
    const position = this.take().start;
    return { type: "not", operand: this.parseUnary(), position };
  }

  private parsePrimary(): Expression {
    const before = this.tokens[this.index - 1];
    const token = this.take();
    switch (token.kind) {
      case "string":
      case "number":
        return { type: "literal", value: token.value, position: token.start };
      case "name":
        return this.parseName(token);
      case "punct":
        if (token.value === "(") return this.parseGroup(token.start);
        throw new ExpressionError(`expected a value, found ${describeToken(token)}`, token.start);
      case "end": {
        const after = before === undefined ? "" : ` after ${describeToken(before)}`;
        throw new ExpressionError(`expected a value${after}`, token.start);
      }
    }
  }

  private parseGroup(open: number): Expression {
    const inner = this.parseOr();
    if (!this.isPunct(")")) {
      const found = this.peek();
      throw new ExpressionError(
        `expected ")" to close the "(" at character ${open + 1}, found ${describeToken(found)}`,
        found.start,
      );
    }
    this.take();
    return inner;
  }

  private parseName(token: Extract<Token, { kind: "name" }>): Expression {
    const { segments, start } = token;
    const [first = ""] = segments;
    if (this.isPunct("(")) return this.parseCall(segments.join("."), start);
    if (segments.length === 1 && (first === "true" || first === "false")) {
      return { type: "literal", value: first === "true", position: start };
    }
    checkName(segments, start);
    return { type: "reference", path: segments, position: start };
  }

  private parseCall(name: string, position: number): Expression {
    if (!Object.hasOwn(FUNCTIONS, name)) {
      const suggestion = suggestKey(name, Object.keys(FUNCTIONS));
      const hint =
        suggestion === undefined
          ? `; expected one of ${Object.keys(FUNCTIONS).join(", ")}`
          : ` (did you mean "${suggestion}"?)`;
      throw new ExpressionError(`unknown function "${name}"${hint}`, position);
    }
    const fn = name as FunctionName;
    this.take(); // "("
    const args: Expression[] = [];
    if (!this.isPunct(")")) {
      args.push(this.parseOr());
      while (this.isPunct(",")) {
        this.take();
        args.push(this.parseOr());
      }
    }
    if (!this.isPunct(")")) {
      const found = this.peek();
      throw new ExpressionError(`expected "," or ")" in ${fn}(), found ${describeToken(found)}`, found.start);
    }
    this.take();
    const [min, max] = FUNCTIONS[fn];
    if (args.length < min || args.length > max) {
      const wanted =
        max === 0 ? "no arguments" : max === Infinity ? `at least ${min} argument` : `${min} arguments`;
      throw new ExpressionError(`${fn}() takes ${wanted}, found ${args.length}`, position);
    }
    return { type: "call", name: fn, args, position };
  }
}

function parseRange(text: string, start: number, end: number): Expression {
  return new Parser(tokenize(text, start, end)).parse();
}

/**
 * Parses an expression; throws {@link ExpressionError} with the position of the first problem.
 *
 * @example
 *   parseExpression("success() && branch == 'main'");
 *   // { type: "binary", operator: "&&", left: { type: "call", name: "success", … }, right: { … } }
 *   parseExpression("branch = 'main'"); // throws: unexpected "="; compare with == at character 8
 */
export function parseExpression(text: string): Expression {
  return parseRange(text, 0, text.length);
}

export type TemplatePart =
  | { type: "text"; text: string }
  /** `position` is where `${{` starts. */
  | { type: "expression"; expression: Expression; position: number };

/** The offset of the `}}` closing the `${{` at `open`, skipping quoted text; -1 when there is none. */
function closingOf(text: string, open: number): number {
  let i = open + 3;
  while (i < text.length) {
    if (text[i] === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw new ExpressionError("text started with ' is never closed", i);
      i = close + 1;
    } else if (text.startsWith("}}", i)) {
      return i;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * Splits a string into literal text and `${{ … }}` expressions, parsing each; throws
 * {@link ExpressionError} with positions in the whole string. There is no escape for a literal `${{`.
 *
 * @example
 *   parseTemplate("v${{ run.number }}"); // [{ type: "text", text: "v" }, { type: "expression", … }]
 */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let from = 0;
  for (;;) {
    const open = text.indexOf("${{", from);
    if (open < 0) break;
    if (open > from) parts.push({ type: "text", text: text.slice(from, open) });
    const close = closingOf(text, open);
    if (close < 0) throw new ExpressionError('"${{" is never closed with "}}"', open);
    parts.push({ type: "expression", expression: parseRange(text, open + 3, close), position: open });
    from = close + 2;
  }
  if (from < text.length) parts.push({ type: "text", text: text.slice(from) });
  return parts;
}

/**
 * Parses an `if:` condition. It may also be written wrapped as `${{ … }}`, as GitHub Actions allows.
 *
 * @example
 *   parseCondition("${{ failure() }}"); // same as parseCondition("failure()")
 */
export function parseCondition(text: string): Expression {
  if (!text.trimStart().startsWith("${{")) return parseExpression(text);
  const parts = parseTemplate(text);
  const expressions = parts.filter((part) => part.type === "expression");
  const onlyBlank = parts.every((part) => part.type === "expression" || part.text.trim() === "");
  const single = expressions[0];
  if (expressions.length === 1 && single !== undefined && onlyBlank) return single.expression;
  throw new ExpressionError(
    "a condition is one expression; write it without ${{ }} or as a single ${{ … }}",
    0,
  );
}
