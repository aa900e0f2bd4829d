/**
 * Finds where any of many literal strings occur in a text, in one pass: an Aho–Corasick automaton
 * over UTF-16 code units. A combined regular expression would also work, but V8 tries each
 * alternative at each position, so 20 secrets × ~40 forms would mean ~800 attempts per log character;
 * the automaton does one transition (amortised) per character however many forms there are, and it
 * never backtracks, so no input can make it slow.
 *
 * It reports the union of all occurrences as ranges, which is what masking needs: overlapping
 * secrets (`abcdef` and `defgh` in `abcdefgh`) are masked together, so no part of either leaks —
 * stronger than "longest first", which would mask `abcdef` and leave `gh` of the other showing.
 */

/** A half-open range [start, end) of UTF-16 code units. */
export interface Range {
  start: number;
  end: number;
}

export interface Matcher {
  /** Ranges covered by at least one pattern, sorted and disjoint (overlaps merged, touching kept apart). */
  find(text: string): Range[];
  /** Length of the longest pattern, in UTF-16 code units; 0 when there are none. */
  readonly longest: number;
}

const ALPHABET = 0x10000;

/**
 * The trie, stored for long secrets: a 3 KB private key has ~40 forms of up to 6 KB each, so the trie
 * has hundreds of thousands of states, nearly all with one child. Each state keeps its first child in
 * two plain arrays; only the rare second and later children go into a Map (keyed state·2^16 + unit).
 * The root's children are a dense table: most log characters start no pattern, so that is the hot path.
 */
interface Trie {
  rootNext: Int32Array;
  firstUnit: number[];
  firstTo: number[];
  more: Map<number, number>;
  /** States with children in `more`, and those children's units, for the breadth-first walk. */
  moreUnits: Map<number, number[]>;
  /** Length of the longest pattern ending at each state (after failure links: see buildFailureLinks). */
  output: number[];
}

/**
 * Builds a matcher for the given non-empty patterns.
 *
 * @example
 *   createMatcher(["abcdef", "defgh"]).find("xxabcdefghxx"); // [{ start: 2, end: 10 }]
 */
export function createMatcher(patterns: readonly string[]): Matcher {
  const trie = buildTrie(patterns);
  const longest = patterns.reduce((max, p) => Math.max(max, p.length), 0);
  const fail = buildFailureLinks(trie);
  const step = (state: number, unit: number): number => {
    for (let s = state; ; s = fail[s] ?? 0) {
      const to = transition(trie, s, unit);
      if (to !== 0 || s === 0) return to;
    }
  };
  return {
    longest,
    find(text) {
      const ranges: Range[] = [];
      if (longest === 0) return ranges;
      let state = 0;
      for (let i = 0; i < text.length; i++) {
        state = step(state, text.charCodeAt(i));
        const length = trie.output[state] ?? 0;
        if (length > 0) addRange(ranges, i + 1 - length, i + 1);
      }
      return ranges;
    },
  };
}

function buildTrie(patterns: readonly string[]): Trie {
  const trie: Trie = {
    rootNext: new Int32Array(ALPHABET),
    firstUnit: [-1],
    firstTo: [0],
    more: new Map(),
    moreUnits: new Map(),
    output: [0],
  };
  for (const pattern of patterns) {
    let state = 0;
    for (let i = 0; i < pattern.length; i++) {
      const unit = pattern.charCodeAt(i);
      let to = transition(trie, state, unit);
      if (to === 0) {
        to = trie.output.length;
        trie.firstUnit.push(-1);
        trie.firstTo.push(0);
        trie.output.push(0);
        addEdge(trie, state, unit, to);
      }
      state = to;
    }
    if (state !== 0) trie.output[state] = pattern.length;
  }
  return trie;
}

function addEdge(trie: Trie, from: number, unit: number, to: number): void {
  if (from === 0) {
    trie.rootNext[unit] = to;
  } else if (trie.firstUnit[from] === -1) {
    trie.firstUnit[from] = unit;
    trie.firstTo[from] = to;
  } else {
    trie.more.set(from * ALPHABET + unit, to);
    const units = trie.moreUnits.get(from);
    if (units) units.push(unit);
    else trie.moreUnits.set(from, [unit]);
  }
}

/** The state reached from `state` on `unit` along a trie edge; 0 (the root) when there is none. */
function transition(trie: Trie, state: number, unit: number): number {
  if (state === 0) return trie.rootNext[unit] ?? 0;
  if (trie.firstUnit[state] === unit) return trie.firstTo[state] ?? 0;
  return trie.more.get(state * ALPHABET + unit) ?? 0;
}

/**
 * Failure links, breadth-first, and each state's output widened to the longest pattern that ends
 * there — its own or one reached through failure links. The union of ranges only needs the longest
 * match ending at each position: every shorter one ending there lies inside it.
 */
function buildFailureLinks(trie: Trie): Int32Array {
  const fail = new Int32Array(trie.output.length);
  const queue: number[] = [];
  for (const to of trie.rootNext) if (to !== 0) queue.push(to); // depth 1: fail[to] = 0, the root
  // Breadth-first: the array iterator reads the length on each step, so states pushed below are visited.
  for (const state of queue) {
    const first = trie.firstUnit[state] ?? -1;
    const units = first === -1 ? [] : [first, ...(trie.moreUnits.get(state) ?? [])];
    for (const unit of units) {
      const to = transition(trie, state, unit);
      let s = fail[state] ?? 0;
      let link = transition(trie, s, unit);
      while (link === 0 && s !== 0) {
        s = fail[s] ?? 0;
        link = transition(trie, s, unit);
      }
      fail[to] = link;
      trie.output[to] = Math.max(trie.output[to] ?? 0, trie.output[link] ?? 0);
      queue.push(to);
    }
  }
  return fail;
}

/**
 * Adds [start, end) to ranges sorted by end. Matches are reported in order of their end, but a later
 * one can start earlier (a long pattern ending after a short one), so it may swallow several of the
 * last ranges.
 */
function addRange(ranges: Range[], start: number, end: number): void {
  let merged = start;
  for (let last = ranges.at(-1); last !== undefined && last.end > start; last = ranges.at(-1)) {
    merged = Math.min(merged, last.start);
    ranges.pop();
  }
  ranges.push({ start: merged, end });
}
