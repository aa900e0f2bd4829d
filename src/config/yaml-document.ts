/**
 * slipway.yaml as a YAML document that is safe to turn into data: no syntax errors, keys that are plain
 * values and unique, only YAML 1.2 core tags, at most {@link MAX_NESTING} levels deep, and aliases that
 * resolve, do not contain themselves and add at most {@link MAX_ALIAS_VALUES} values ("billion laughs").
 *
 * Every check here is one pass over the document. The yaml package's own duplicate-key check and alias
 * resolution compare each key or alias with all earlier ones (quadratic: 20,000 keys took seconds), so
 * both are switched off and done here; aliases are replaced by the node they name, so nothing after this
 * (conversion to data, locating issues) has to resolve one again.
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
  type YAMLError,
} from "yaml";
import { ConfigError, MAX_REPORTED_ISSUES, type ConfigIssue } from "../util/index.js";
import { formatPath } from "./issues.js";
import { pathAt } from "./locate.js";

/** Levels of nesting a document may have, aliases expanded; the schema itself needs about ten. */
export const MAX_NESTING = 64;
/** Values that aliases may add to the document; a health check shared by 100 services adds a few thousand. */
export const MAX_ALIAS_VALUES = 10_000;

export interface YamlDocument {
  doc: Document;
  lineCounter: LineCounter;
}

type Segment = string | number;

/** A problem found before the data exists: a source offset, a path, and what is wrong. */
interface Problem {
  offset: number;
  path: readonly Segment[];
  message: string;
}

function located(file: string, lineCounter: LineCounter, problem: Problem): ConfigIssue {
  const { line, col } = lineCounter.linePos(problem.offset);
  return { file, line, column: col, path: formatPath(problem.path), message: problem.message };
}

/**
 * One ConfigError for problems in any order: sorted by position, equal ones once, the first
 * {@link MAX_REPORTED_ISSUES} located (the rest only counted, so locating never dominates).
 */
function refuse(file: string, lineCounter: LineCounter, problems: readonly Problem[]): ConfigError {
  const seen = new Set<string>();
  const distinct = [...problems]
    .sort((a, b) => a.offset - b.offset)
    .filter((problem) => {
      const id = `${problem.offset}:${problem.message}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  const issues = distinct.slice(0, MAX_REPORTED_ISSUES).map((problem) => located(file, lineCounter, problem));
  return new ConfigError(issues, distinct.length);
}

function duplicateMessage(path: readonly Segment[]): string {
  const key = path.at(-1);
  const parent = path.length === 2 ? path[0] : undefined;
  if (parent === "services" || parent === "environments") {
    return `two ${parent} are named ${JSON.stringify(key)}; names must be unique`;
  }
  return `duplicate key ${JSON.stringify(key ?? "")}; a key may appear only once in a mapping`;
}

function syntaxMessage(error: YAMLError): string {
  switch (error.code) {
    case "MULTIPLE_DOCS":
      return "expected one YAML document, found several separated by ---";
    case "RESOURCE_EXHAUSTION":
      return `invalid YAML: nested too deeply to read; at most ${MAX_NESTING} levels are allowed`;
    case "TAG_RESOLVE_FAILED":
      return `${error.message.split("\n")[0] ?? "unknown tag"}; slipway.yaml takes plain YAML values, without tags such as !!binary or !!js/function`;
    default:
      return `invalid YAML: ${error.message.split("\n")[0] ?? error.code}`;
  }
}

/** Syntax errors and unknown tags, located lazily: only those reported cost a path lookup. */
function yamlProblems(doc: Document, errors: readonly YAMLError[]): Problem[] {
  return errors.map((error) => {
    const offset = error.pos[0];
    return {
      offset,
      get path() {
        return pathAt(doc, offset);
      },
      message: syntaxMessage(error),
    };
  });
}

interface Place {
  node: unknown;
  parent: Place | undefined;
  segment: Segment | undefined;
  depth: number;
}

function pathOf(place: Place): Segment[] {
  const path: Segment[] = [];
  for (let at: Place | undefined = place; at !== undefined; at = at.parent) {
    if (at.segment !== undefined) path.unshift(at.segment);
  }
  return path;
}

/** The first collection nested too deeply, found without recursion (the document may be very deep). */
function depthProblem(doc: Document): Problem | undefined {
  const stack: Place[] = [{ node: doc.contents, parent: undefined, segment: undefined, depth: 0 }];
  for (let place = stack.pop(); place !== undefined; place = stack.pop()) {
    const { node, depth } = place;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth >= MAX_NESTING) {
      const message = `nested deeper than ${MAX_NESTING} levels; slipway.yaml needs about ten`;
      return { offset: node.range?.[0] ?? 0, path: pathOf(place), message };
    }
    node.items.forEach((item: unknown, index) => {
      const child = isPair(item)
        ? { node: item.value, segment: keyOf(item.key) ?? index }
        : { node: item, segment: index };
      stack.push({ ...child, parent: place, depth: depth + 1 });
    });
  }
  return undefined;
}

/** The property a scalar key becomes in the data (`1` and `"1"` are the same key there). */
function keyOf(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  const value: unknown = key.value;
  if (value === null || value === undefined) return "";
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    default:
      return undefined; // not in the core schema
  }
}

function describeNode(node: unknown): string {
  if (isAlias(node)) return "an alias";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  return "a value";
}

interface Size {
  values: number;
  height: number;
}

/**
 * The pass over the document's nodes, in source order: registers anchors, replaces each alias by the
 * node it names, and checks keys, nesting and expansion. Sizes are memoised per node, so a node shared
 * by many aliases is measured once.
 */
class Walk {
  readonly problems: Problem[] = [];
  private readonly anchors = new Map<string, Node>();
  private readonly open = new Set<Node>();
  private readonly sizes = new Map<Node, Size>();
  private readonly path: Segment[] = [];
  /** Values of the document so far, aliases expanded. */
  private values = 0;
  private overExpanded = false;
  private readonly written: number;

  constructor(written: number) {
    this.written = written;
  }

  private report(offset: number | undefined, message: string, segment?: Segment): void {
    const path = segment === undefined ? [...this.path] : [...this.path, segment];
    this.problems.push({ offset: offset ?? 0, path, message });
  }

  /**
   * Visits `node`, returning what to put in its place (the named node, for an alias) and its size.
   * Recursive, and safely so: depthProblem has refused any document nested deeper than MAX_NESTING.
   */
  visit(node: unknown, segment: Segment | undefined): { node: unknown; size: Size } {
    if (segment !== undefined) this.path.push(segment);
    try {
      if (isAlias(node)) return this.resolve(node);
      if (!isNode(node)) return { node, size: { values: 1, height: 0 } };
      if (node.anchor !== undefined) this.anchors.set(node.anchor, node);
      this.values++;
      this.open.add(node);
      const size = isMap(node)
        ? this.visitMap(node)
        : isSeq(node)
          ? this.visitSeq(node)
          : { values: 1, height: 0 };
      this.open.delete(node);
      this.sizes.set(node, size);
      return { node, size };
    } finally {
      if (segment !== undefined) this.path.pop();
    }
  }

  private resolve(alias: Node & { source: string }): { node: unknown; size: Size } {
    const offset = alias.range?.[0];
    const target = this.anchors.get(alias.source);
    const none = { node: alias, size: { values: 1, height: 0 } };
    if (target === undefined) {
      this.report(
        offset,
        `invalid YAML: alias *${alias.source} names no anchor &${alias.source} written before it`,
      );
      return none;
    }
    const size = this.sizes.get(target);
    if (this.open.has(target) || size === undefined) {
      this.report(
        offset,
        `invalid YAML: alias *${alias.source} is inside the value it names, which would never end`,
      );
      return none;
    }
    this.values += size.values;
    if (this.values - this.written > MAX_ALIAS_VALUES) {
      // Said once, where the limit is passed: every alias after it is over the limit too.
      if (!this.overExpanded) {
        const message = `invalid YAML: aliases expand the document by more than ${MAX_ALIAS_VALUES} values here (*${alias.source} alone is ${size.values}); anchors are for sharing small blocks`;
        this.report(offset, message);
        this.overExpanded = true;
      }
      return none;
    }
    if (this.path.length + size.height > MAX_NESTING) {
      this.report(
        offset,
        `invalid YAML: alias *${alias.source} nests the document deeper than ${MAX_NESTING} levels`,
      );
      return none;
    }
    return { node: target, size };
  }

  private visitMap(map: { items: { key: unknown; value: unknown }[] }): Size {
    const keys = new Set<string>();
    let values = 1;
    let height = 0;
    map.items.forEach((pair, index) => {
      const key = keyOf(pair.key);
      const offset = (pair.key as Node | null)?.range?.[0];
      if (key === undefined) {
        this.report(
          offset,
          `a key must be a name or another plain value, found ${describeNode(pair.key)}`,
          index,
        );
      } else if (keys.has(key)) {
        this.report(offset, duplicateMessage([...this.path, key]), key);
      } else {
        keys.add(key);
      }
      if (isScalar(pair.key) && pair.key.anchor !== undefined) this.anchors.set(pair.key.anchor, pair.key);
      const child = this.visit(pair.value, key ?? index);
      pair.value = child.node;
      values += child.size.values;
      height = Math.max(height, child.size.height + 1);
    });
    return { values, height };
  }

  private visitSeq(seq: { items: unknown[] }): Size {
    let values = 1;
    let height = 0;
    seq.items.forEach((item, index) => {
      const child = this.visit(item, index);
      seq.items[index] = child.node;
      values += child.size.values;
      height = Math.max(height, child.size.height + 1);
    });
    return { values, height };
  }
}

function isNode(node: unknown): node is Node {
  return isMap(node) || isSeq(node) || isScalar(node) || isAlias(node);
}

/** Nodes as written (aliases counted once), to tell what aliases add. */
function countNodes(doc: Document): number {
  let count = 0;
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === undefined || node === null) continue;
    count++;
    if (isMap(node)) for (const pair of node.items) stack.push(pair.value);
    else if (isSeq(node)) for (const item of node.items) stack.push(item);
  }
  return count;
}

/**
 * Runs `parse` without capturing stack traces. The yaml package reports each syntax error as an Error,
 * and capturing the stack of 250,000 of them was most of the time spent on a file of broken lines. The
 * setting is global, but nothing else runs until this synchronous call returns and restores it.
 */
function withoutStackTraces<T>(parse: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return parse();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Parses slipway.yaml source into a document whose aliases are resolved in place, or throws a
 * {@link ConfigError} with every problem located. Syntax errors come first and alone: a document the
 * parser had to guess at would give misleading issues.
 *
 * @example
 *   const { doc } = parseYamlDocument("a: &x 1\nb: *x\n", "slipway.yaml");
 *   doc.toJS(); // { a: 1, b: 1 }
 */
export function parseYamlDocument(source: string, file: string): YamlDocument {
  const lineCounter = new LineCounter();
  const doc = withoutStackTraces(() =>
    parseDocument(source, {
      lineCounter,
      prettyErrors: false,
      uniqueKeys: false,
      schema: "core",
      resolveKnownTags: false,
      merge: false,
      logLevel: "error",
    }),
  );
  if (doc.errors.length > 0) throw refuse(file, lineCounter, yamlProblems(doc, doc.errors));
  const tags = doc.warnings.filter((warning) => warning.code === "TAG_RESOLVE_FAILED");
  if (tags.length > 0) throw refuse(file, lineCounter, yamlProblems(doc, tags));
  const deep = depthProblem(doc);
  if (deep) throw refuse(file, lineCounter, [deep]);
  const walk = new Walk(countNodes(doc));
  doc.contents = walk.visit(doc.contents, undefined).node as typeof doc.contents;
  if (walk.problems.length > 0) throw refuse(file, lineCounter, walk.problems);
  return { doc, lineCounter };
}
