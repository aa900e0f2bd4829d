/**
 * Finding where a key path is written in a YAML document, and which key path an offset falls in.
 * Positions come from the parsed nodes' source ranges, so they are right for block and flow style alike.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type Node } from "yaml";

interface Step {
  key: Node | undefined;
  value: Node | undefined;
}

function resolve(node: unknown, doc: Document): Node | undefined {
  if (isAlias(node)) return node.resolve(doc);
  return node !== null && typeof node === "object" ? (node as Node) : undefined;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** The nodes along `path`, stopping at the first segment that is not in the document. */
function walk(doc: Document, path: readonly PropertyKey[]): Step[] {
  const steps: Step[] = [];
  let current = resolve(doc.contents, doc);
  for (const segment of path) {
    let step: Step | undefined;
    if (isMap(current)) {
      const pair = current.items.find((item) => keyText(item.key) === String(segment));
      if (pair) step = { key: resolve(pair.key, doc), value: resolve(pair.value, doc) };
    } else if (isSeq(current) && typeof segment === "number") {
      const item = resolve(current.items[segment], doc);
      if (item) step = { key: undefined, value: item };
    }
    if (!step) break;
    steps.push(step);
    current = step.value;
  }
  return steps;
}

function start(node: Node | undefined): number | undefined {
  return node?.range?.[0];
}

export type Anchor = "key" | "value" | "parent";

/**
 * Source offset for an issue at `path`: its key (unknown keys, bad names), its value (bad values), or the
 * map that holds it (missing keys). When the path is not fully in the document (a default filled in), the
 * deepest part that is written is used; the document's start as a last resort.
 */
export function offsetOf(doc: Document, path: readonly PropertyKey[], anchor: Anchor): number {
  const target = anchor === "parent" ? path.slice(0, -1) : path;
  const steps = walk(doc, target);
  const root = start(resolve(doc.contents, doc)) ?? 0;
  const last = steps.at(-1);
  if (!last) return root;
  const complete = steps.length === target.length;
  if (complete && anchor === "key") return start(last.key) ?? start(last.value) ?? root;
  if (complete) return start(last.value) ?? start(last.key) ?? root;
  return start(last.key) ?? start(last.value) ?? root;
}

function contains(node: Node | undefined, offset: number): boolean {
  const range = node?.range;
  return (
    range !== undefined && range !== null && offset >= range[0] && offset < Math.max(range[2], range[0] + 1)
  );
}

function asNode(node: unknown): Node | undefined {
  return isNode(node) ? node : undefined;
}

/**
 * The key path written at `offset`, e.g. for a YAML syntax error; as deep as the document allows.
 * With `includeKey`, an offset on a key yields that key's path (a duplicate key); without, the path of
 * the value holding it, since after a syntax error the parser's keys may be fragments of the text.
 * Aliases are not followed: their target is written elsewhere, and may even enclose the alias.
 */
export function pathAt(doc: Document, offset: number, includeKey = false): (string | number)[] {
  const path: (string | number)[] = [];
  let current = asNode(doc.contents);
  for (;;) {
    let next: Node | undefined;
    if (isMap(current)) {
      for (const pair of current.items) {
        const value = asNode(pair.value);
        if (contains(asNode(pair.key), offset)) return includeKey ? [...path, keyText(pair.key)] : path;
        if (contains(value, offset)) {
          path.push(keyText(pair.key));
          next = value;
          break;
        }
      }
    } else if (isSeq(current)) {
      const index = current.items.findIndex((item) => contains(asNode(item), offset));
      if (index >= 0) {
        path.push(index);
        next = asNode(current.items[index]);
      }
    }
    if (next === undefined) return path;
    current = next;
  }
}
