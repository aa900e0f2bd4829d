/**
 * Finding where a key path is written in a YAML document, and which key path an offset falls in.
 * Positions come from the parsed nodes' source ranges, so they are right for block and flow style alike.
 *
 * Both run once per issue, and a file may have tens of thousands of issues: each lookup costs the depth
 * of the path (mappings are indexed once, on first use), never the size of the document.
 */
import { isMap, isNode, isScalar, isSeq, type Document, type Node, type Pair, type YAMLMap } from "yaml";

interface Step {
  key: Node | undefined;
  value: Node | undefined;
}

function asNode(node: unknown): Node | undefined {
  return isNode(node) ? node : undefined;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function start(node: Node | undefined): number | undefined {
  return node?.range?.[0];
}

export type Anchor = "key" | "value" | "parent";

/** Answers where paths are written in one document; aliases must already be replaced by their nodes. */
export interface Locator {
  /**
   * Source offset for an issue at `path`: its key (unknown keys, bad names), its value (bad values), or
   * the map that holds it (missing keys). When the path is not fully in the document (a default filled
   * in), the deepest part that is written is used; the document's start as a last resort.
   */
  offsetOf(path: readonly PropertyKey[], anchor: Anchor): number;
}

/**
 * A locator for `doc`. Each mapping's keys are indexed the first time a path goes through it; the first
 * of two equal keys wins, as it did when the pairs were searched in order.
 */
export function createLocator(doc: Document): Locator {
  const indexes = new WeakMap<YAMLMap, Map<string, Pair>>();
  const pairOf = (map: YAMLMap, key: string): Pair | undefined => {
    let index = indexes.get(map);
    if (index === undefined) {
      index = new Map();
      for (const pair of map.items) {
        const text = keyText(pair.key);
        if (!index.has(text)) index.set(text, pair);
      }
      indexes.set(map, index);
    }
    return index.get(key);
  };
  const walk = (path: readonly PropertyKey[]): Step[] => {
    const steps: Step[] = [];
    let current = asNode(doc.contents);
    for (const segment of path) {
      let step: Step | undefined;
      if (isMap(current)) {
        const pair = pairOf(current, String(segment));
        if (pair) step = { key: asNode(pair.key), value: asNode(pair.value) };
      } else if (isSeq(current) && typeof segment === "number") {
        const item = asNode(current.items[segment]);
        if (item) step = { key: undefined, value: item };
      }
      if (!step) break;
      steps.push(step);
      current = step.value;
    }
    return steps;
  };
  return {
    offsetOf(path, anchor) {
      const target = anchor === "parent" ? path.slice(0, -1) : path;
      const steps = walk(target);
      const root = start(asNode(doc.contents)) ?? 0;
      const last = steps.at(-1);
      if (!last) return root;
      const complete = steps.length === target.length;
      if (complete && anchor === "key") return start(last.key) ?? start(last.value) ?? root;
      if (complete) return start(last.value) ?? start(last.key) ?? root;
      return start(last.key) ?? start(last.value) ?? root;
    },
  };
}

function contains(node: Node | undefined, offset: number): boolean {
  const range = node?.range;
  return (
    range !== undefined && range !== null && offset >= range[0] && offset < Math.max(range[2], range[0] + 1)
  );
}

/**
 * The last of `items` that starts at or before `offset`. Items are in source order, so this is a binary
 * search; a document with 50,000 keys in one mapping and an error on each stays linear overall.
 */
function candidate<T>(items: readonly T[], offset: number, startOf: (item: T) => number | undefined): number {
  let low = 0;
  let high = items.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    // Every composed node has a range; one without is taken as lying before the offset.
    if ((startOf(items[mid] as T) ?? -1) <= offset) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

const pairStart = (pair: Pair): number | undefined => start(asNode(pair.key)) ?? start(asNode(pair.value));

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
      const pair = current.items[candidate(current.items, offset, pairStart)];
      if (pair !== undefined) {
        const value = asNode(pair.value);
        if (contains(asNode(pair.key), offset)) return includeKey ? [...path, keyText(pair.key)] : path;
        if (contains(value, offset)) {
          path.push(keyText(pair.key));
          next = value;
        }
      }
    } else if (isSeq(current)) {
      const index = candidate(current.items, offset, (item) => start(asNode(item)));
      if (index >= 0 && contains(asNode(current.items[index]), offset)) {
        path.push(index);
        next = asNode(current.items[index]);
      }
    }
    if (next === undefined) return path;
    current = next;
  }
}
