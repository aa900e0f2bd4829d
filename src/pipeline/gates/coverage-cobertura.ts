/**
 * Cobertura XML (coverage.py `coverage xml`, Cobertura, JaCoCo-to-Cobertura converters, ReportGenerator,
 * gcovr `--cobertura`, Istanbul's `cobertura` reporter).
 *
 * The root `<coverage>` carries the totals: `lines-covered`/`lines-valid` and
 * `branches-covered`/`branches-valid` (Cobertura 1.9+ and every current writer). Counts are taken from
 * there rather than from `line-rate`, which is rounded. When a writer leaves the counts out, they are
 * recomputed from the `<line hits="…">` elements of each `<class>`'s `<lines>` — and only those: a
 * class repeats its lines under `<methods>`, so counting every `<line>` would count them twice. Branch
 * counts come from `condition-coverage="50% (1/2)"`. A line listed twice for the same file (converters
 * that merge reports) counts once.
 *
 * Cobertura has no function totals, so `functions` is never set.
 */
import { coverageCount, parseCount, reportError } from "./count.js";
import type { CoverageSummary } from "./types.js";
import { childElements, parseXml, type XmlElement } from "./xml.js";

/**
 * Totals of a Cobertura report.
 *
 * @example
 *   parseCobertura('<coverage lines-covered="784" lines-valid="1000" line-rate="0.784"/>', "coverage.xml");
 *   // { lines: { covered: 784, total: 1000, pct: 78.4 } }
 */
export function parseCobertura(text: string, file: string): CoverageSummary {
  const root = parseXml(text, file);
  if (root.name !== "coverage") {
    const hint = root.name === "report" ? " (this looks like JaCoCo XML, which is not supported)" : "";
    throw reportError(file, `expected <coverage> as the root element, found <${root.name}>${hint}`);
  }
  const declaredLines = declaredPair(root, "lines-covered", "lines-valid", file);
  const declaredBranches = declaredPair(root, "branches-covered", "branches-valid", file);
  const counted = declaredLines && declaredBranches ? undefined : countLines(root, file);
  const lines = declaredLines ?? counted?.lines;
  if (!lines || (!declaredLines && counted?.listed === 0)) {
    throw reportError(
      file,
      "the <coverage> element has no lines-covered and lines-valid, and the report lists no <line> elements",
    );
  }
  const summary: CoverageSummary = { lines: coverageCount(lines.covered, lines.total) };
  const branches = declaredBranches ?? counted?.branches;
  if (branches && branches.total > 0) summary.branches = coverageCount(branches.covered, branches.total);
  return summary;
}

/** Both attributes as a checked pair, undefined when either is absent. */
function declaredPair(root: XmlElement, coveredName: string, totalName: string, file: string) {
  const coveredText = root.attributes.get(coveredName);
  const totalText = root.attributes.get(totalName);
  if (coveredText === undefined || totalText === undefined) return undefined;
  const covered = parseCount(coveredText);
  const total = parseCount(totalText);
  if (covered === undefined || total === undefined) {
    const [name, value] = covered === undefined ? [coveredName, coveredText] : [totalName, totalText];
    throw reportError(file, `<coverage ${name}> must be a whole number, found ${JSON.stringify(value)}`);
  }
  if (covered > total) {
    throw reportError(
      file,
      `<coverage> has ${coveredName}="${covered}" greater than ${totalName}="${total}"`,
    );
  }
  return { covered, total };
}

interface LineCounts {
  listed: number;
  lines: { covered: number; total: number };
  branches: { covered: number; total: number };
}

function countLines(root: XmlElement, file: string): LineCounts {
  const hits = new Map<string, number>();
  const conditions = new Map<string, { covered: number; total: number }>();
  let listed = 0;
  for (const cls of descendants(root, "class")) {
    const source = cls.attributes.get("filename") ?? cls.attributes.get("name") ?? "";
    for (const lines of childElements(cls, "lines")) {
      for (const line of childElements(lines, "line")) {
        listed++;
        const key = `${source}\n${line.attributes.get("number") ?? String(listed)}`;
        const count = parseCount(line.attributes.get("hits"));
        if (count === undefined) {
          const found = JSON.stringify(line.attributes.get("hits") ?? null);
          throw reportError(file, `line ${line.line}: <line hits> must be a whole number, found ${found}`);
        }
        hits.set(key, Math.max(hits.get(key) ?? 0, count));
        const condition = /\((\d+)\/(\d+)\)/.exec(line.attributes.get("condition-coverage") ?? "");
        if (condition) {
          const covered = Number(condition[1]);
          const total = Number(condition[2]);
          const seen = conditions.get(key);
          if (!seen || covered > seen.covered)
            conditions.set(key, { covered: Math.min(covered, total), total });
        }
      }
    }
  }
  let coveredLines = 0;
  for (const n of hits.values()) if (n > 0) coveredLines++;
  const branches = { covered: 0, total: 0 };
  for (const c of conditions.values()) {
    branches.covered += c.covered;
    branches.total += c.total;
  }
  return { listed, lines: { covered: coveredLines, total: hits.size }, branches };
}

/** Every descendant element named `name`, in document order, without recursion. */
function descendants(root: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const stack: XmlElement[] = [root];
  for (let element = stack.pop(); element !== undefined; element = stack.pop()) {
    if (element.name === name) found.push(element);
    for (let i = element.children.length - 1; i >= 0; i--) {
      const child = element.children[i];
      if (child !== undefined && typeof child !== "string") stack.push(child);
    }
  }
  return found;
}
