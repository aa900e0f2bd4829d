/**
 * Reading slipway.yaml into a validated, frozen {@link SlipwayConfig}, or a {@link ConfigError} that lists
 * the problems found with their line, column and key path (the first 100, and how many there are).
 *
 * Every step is linear in the size of the file, and the file is at most {@link MAX_CONFIG_BYTES}, so one
 * call has a bound whatever the file holds (load-bound.test.ts measures the worst cases we know).
 */
import { createHash } from "node:crypto";
import { isMap, isScalar, isSeq, type Document, type LineCounter } from "yaml";
import { ConfigError, type ConfigIssue } from "../util/index.js";
import { describeValue, schemaError } from "./issues.js";
import { createLocator } from "./locate.js";
import { readRegularFile, type ReadFailure } from "../util/index.js";
import { configSchema, type SlipwayConfig } from "./schema.js";
import { MAX_CONFIG_BYTES, checkConfigText, decodeConfigBytes, tooLargeIssue } from "./source-text.js";
import { parseYamlDocument } from "./yaml-document.js";

export interface LoadedConfig {
  /** As given by the caller; used in every issue. */
  file: string;
  source: string;
  /** SHA-256 of the source, hex; identifies exactly what was planned and applied. */
  sourceHash: string;
  config: SlipwayConfig;
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
  const { line, col } = lineCounter.linePos(root.range?.[0] ?? 0);
  return { file, line, column: col, path: "", message };
}

function toData(file: string, doc: Document): unknown {
  try {
    // Aliases are already replaced by their nodes (yaml-document.ts), so none is resolved here.
    return doc.toJS({ maxAliasCount: -1 });
  } catch (error) {
    // Not expected after the document's checks; still a located refusal rather than a crash.
    const message = `invalid YAML: ${error instanceof Error ? error.message : String(error)}`;
    throw new ConfigError([{ file, line: 1, column: 1, path: "", message }]);
  }
}

/** Freezes a parsed config all the way down (also after it crossed a thread: see config-parser.ts). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses and validates slipway.yaml source. Throws {@link ConfigError} listing the issues found.
 *
 * @example
 *   const { config, sourceHash } = parseConfig("project: shop\n", "slipway.yaml");
 *   config.services; // {}
 */
export function parseConfig(source: string, file: string): LoadedConfig {
  checkConfigText(source, file);
  const { doc, lineCounter } = parseYamlDocument(source, file);
  const shape = shapeIssue(file, doc, lineCounter);
  if (shape) throw new ConfigError([shape]);
  const data = toData(file, doc);
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const context = { file, locator: createLocator(doc), lineCounter, data, schema: configSchema };
    throw schemaError(context, result.error.issues);
  }
  const sourceHash = createHash("sha256").update(source, "utf8").digest("hex");
  return { file, source, sourceHash, config: deepFreeze(result.data) };
}

/**
 * Reads and parses a config file. A file that cannot be read is a {@link ConfigError} too, so callers
 * report it like any other problem with the file: missing, not a regular file (a FIFO would block, a
 * device never end), larger than {@link MAX_CONFIG_BYTES} (refused before it is read) or not UTF-8.
 */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  return parseConfig(await readConfigText(path), path);
}

/** The text of a config file, checked as {@link loadConfigFile} does; `file` names it in issues. */
export async function readConfigText(path: string, file = path): Promise<string> {
  const read = await readRegularFile(path, MAX_CONFIG_BYTES);
  if (!read.ok) throw new ConfigError([readIssue(file, read.failure)]);
  return decodeConfigBytes(read.bytes, file);
}

function readIssue(file: string, failure: ReadFailure): ConfigIssue {
  if (failure.reason === "too-large") return tooLargeIssue(file, failure.size);
  return {
    file,
    line: 0,
    column: 0,
    path: "",
    message: `cannot read the file: ${describeReadFailure(failure)}`,
  };
}

function describeReadFailure(failure: ReadFailure): string {
  switch (failure.reason) {
    case "missing":
      return "it does not exist (run `slipway init` to create one)";
    case "directory":
      return "it is a directory";
    case "not-regular":
      return `it is ${failure.kind}, not a regular file`;
    case "permission":
      return "permission denied";
    case "too-large":
      return `it is larger than ${MAX_CONFIG_BYTES} bytes`;
    case "other":
      return failure.code;
  }
}
