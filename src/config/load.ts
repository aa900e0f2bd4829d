/**
 * Reading slipway.yaml into a validated, frozen {@link SlipwayConfig}, or a {@link ConfigError} that lists
 * every problem with its line, column and key path.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type YAMLError } from "yaml";
import { ConfigError, type ConfigIssue } from "../util/errors.js";
import { describeValue, formatPath, issuesFromSchema, sortIssues } from "./issues.js";
import { pathAt } from "./locate.js";
import { configSchema, type SlipwayConfig } from "./schema.js";

export interface LoadedConfig {
  /** As given by the caller; used in every issue. */
  file: string;
  source: string;
  /** SHA-256 of the source, hex; identifies exactly what was planned and applied. */
  sourceHash: string;
  config: SlipwayConfig;
}

/** Aliases may not expand beyond this many nodes ("billion laughs" documents). */
const MAX_ALIAS_COUNT = 100;

function issueAt(
  file: string,
  lineCounter: LineCounter,
  offset: number,
  path: string,
  message: string,
): ConfigIssue {
  const { line, col } = lineCounter.linePos(offset);
  return { file, line, column: col, path, message };
}

function syntaxMessage(error: YAMLError, path: readonly (string | number)[]): string {
  const key = path.at(-1);
  const parent = path.length === 2 ? path[0] : undefined;
  switch (error.code) {
    case "DUPLICATE_KEY":
      if (parent === "services" || parent === "environments") {
        return `two ${parent} are named ${JSON.stringify(key)}; names must be unique`;
      }
      return `duplicate key ${JSON.stringify(key ?? "")}; a key may appear only once in a mapping`;
    case "MULTIPLE_DOCS":
      return "expected one YAML document, found several separated by ---";
    default:
      return `invalid YAML: ${error.message.split("\n")[0] ?? error.code}`;
  }
}

function syntaxIssues(file: string, doc: Document, lineCounter: LineCounter): ConfigIssue[] {
  return sortIssues(
    doc.errors.map((error) => {
      const path = pathAt(doc, error.pos[0], error.code === "DUPLICATE_KEY");
      return issueAt(file, lineCounter, error.pos[0], formatPath(path), syntaxMessage(error, path));
    }),
  );
}

/** Problems with the document as a whole, before any key can be checked. */
function shapeIssue(file: string, doc: Document, lineCounter: LineCounter): ConfigIssue | undefined {
  const root = doc.contents;
  if (root === null) {
    const message = 'the file is empty; expected a mapping with at least the key "project"';
    return { file, line: 0, column: 0, path: "", message };
  }
  if (isMap(root)) return undefined;
  const found = isSeq(root) ? "a list" : isScalar(root) ? describeValue(root.value) : "an alias";
  const message = `expected a mapping of keys such as "project" and "services" at the top level, found ${found}`;
  return issueAt(file, lineCounter, root.range?.[0] ?? 0, "", message);
}

function toData(file: string, doc: Document): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The yaml package throws a ReferenceError for excessive alias expansion.
    const message = `invalid YAML: ${error instanceof Error ? error.message : String(error)}`;
    throw new ConfigError([{ file, line: 0, column: 0, path: "", message }]);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses and validates slipway.yaml source. Throws {@link ConfigError} listing every issue found.
 *
 * @example
 *   const { config, sourceHash } = parseConfig("project: shop\n", "slipway.yaml");
 *   config.services; // {}
 */
export function parseConfig(source: string, file: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  // Syntax errors come first and alone: a document the parser had to guess at would give misleading issues.
  if (doc.errors.length > 0) throw new ConfigError(syntaxIssues(file, doc, lineCounter));
  const shape = shapeIssue(file, doc, lineCounter);
  if (shape) throw new ConfigError([shape]);
  const data = toData(file, doc);
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const context = { file, doc, lineCounter, data, schema: configSchema };
    throw new ConfigError(issuesFromSchema(context, result.error.issues));
  }
  const sourceHash = createHash("sha256").update(source, "utf8").digest("hex");
  return { file, source, sourceHash, config: deepFreeze(result.data) };
}

/**
 * Reads and parses a config file. A file that cannot be read is a {@link ConfigError} too, so callers
 * report it like any other problem with the file.
 */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  let source: string;
  try {
    source = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError([{ file: path, line: 0, column: 0, path: "", message: readFailure(error) }]);
  }
  return parseConfig(source, path);
}

function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "cannot read the file: it does not exist (run `slipway init` to create one)";
    case "EISDIR":
      return "cannot read the file: it is a directory";
    case "EACCES":
    case "EPERM":
      return "cannot read the file: permission denied";
    default:
      return `cannot read the file: ${code ?? (error instanceof Error ? error.message : String(error))}`;
  }
}
