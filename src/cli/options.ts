/**
 * Every value the CLI takes — flags, arguments, and the settings that stand in for them (the
 * SLIPWAY_* environment, the client file) — is checked here before anything is read, sent or started.
 * A bad one is a usage error: one line naming the flag (or variable), what was expected and what was
 * found, and exit code {@link EXIT_USAGE}. It is never reported as a bug in slipway.
 *
 * Two ways in:
 * - `parse…` functions are commander argument parsers. The InvalidArgumentError they throw becomes
 *   `error: option '-n, --limit <n>' argument '0' is invalid. expected a whole number from 1 to 1000;
 *   found "0"` (commander names the flag and quotes the value; main.ts turns it into EXIT_USAGE).
 * - `check…` functions are for values that did not come through a flag, or that must not be echoed:
 *   they throw a {@link UsageError} naming where the value came from. Secrets (tokens, webhook secrets)
 *   only go this way, and their messages say what is wrong without repeating them.
 */
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { LABEL_PATTERN } from "../shared/index.js";
import { parseListen as parseListenAddress } from "../server/index.js";
import { SlipwayError } from "../util/index.js";

/**
 * The exit code of a usage error: EX_USAGE from sysexits.h. Not 2, the usual choice elsewhere:
 * `plan --detailed-exitcode` exits 2 for "there are changes", and a script must not read a mistyped flag
 * as that. 1 is a failure, 3 a rolled-back deploy, 130 Ctrl-C (docs/cli.md).
 */
export const EXIT_USAGE = 64;

/** A bad flag, argument or CLI setting. The CLI prints it and exits {@link EXIT_USAGE}. */
export class UsageError extends SlipwayError {
  constructor(message: string, hint?: string) {
    super("invalid_request", message, { hint: hint ?? "run with --help for usage" });
  }
}

/** A value quoted for a message: as JSON (so spaces and control characters show), cut when long. */
function quoted(value: string): string {
  const json = JSON.stringify(value);
  return json.length > 80 ? `${json.slice(0, 76)}…"` : json;
}

function invalid(expected: string, value: string): InvalidArgumentError {
  return new InvalidArgumentError(`expected ${expected}; found ${quoted(value)}`);
}

/**
 * A parser for a whole number in [min, max] (digits only: no sign, no exponent, no blank).
 *
 * @example
 *   .option("-n, --limit <n>", "how many", wholeNumber(1, 1000), 20)
 */
export function wholeNumber(min: number, max: number, noun = "a whole number"): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d{1,15}$/.test(value) || n < min || n > max) {
      throw invalid(`${noun} from ${min} to ${max}`, value);
    }
    return n;
  };
}

/** `-n/--limit`: a whole number from 1 to 1000. */
export const parseLimit = wholeNumber(1, 1000);

/** A parser for one of a closed set of words (a role, a log level). */
export function oneOf(values: readonly string[]): (value: string) => string {
  return (value) => {
    if (!values.includes(value)) throw invalid(`one of ${values.join(", ")}`, value);
    return value;
  };
}

/** A parser for a comma-separated list of words from a closed set (`--status failed,cancelled`). */
export function listOf(values: readonly string[]): (value: string) => string {
  return (value) => {
    const items = value.split(",");
    const bad = items.find((item) => !values.includes(item));
    if (bad !== undefined) throw invalid(`a comma-separated list of ${values.join(", ")}`, bad);
    return value;
  };
}

/** `events -t`: event type prefixes, comma-separated (`config.,token.created`). */
export function parseTypePrefixes(value: string): string {
  const bad = value.split(",").find((prefix) => !/^[a-z][a-z0-9.-]{0,99}$/.test(prefix));
  if (bad !== undefined) throw invalid("comma-separated event type prefixes such as config.,token.", value);
  return value;
}

export const ROLES = ["admin", "operator", "viewer"] as const;
export const parseRole = oneOf(ROLES);

/** What pino knows; anything else makes it throw at start (which read as a bug in slipway). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const parseLogLevel = oneOf(LOG_LEVELS);

/**
 * A parser for the name of something slipway.yaml declares (a service, an environment, a pipeline, a
 * job): the config only accepts these, so any other value can never match and is refused here.
 */
export function parseName(noun: string): (value: string) => string {
  return (value) => {
    if (!new RegExp(LABEL_PATTERN).test(value)) {
      throw invalid(`${noun} name: lowercase letters, digits and "-", starting with a letter`, value);
    }
    return value;
  };
}

/** `token create NAME`: as the API takes it. */
export function parseTokenName(value: string): string {
  if (/^[a-z0-9][a-z0-9._-]{0,62}$/.test(value)) return value;
  throw invalid("a lowercase token name such as ci or alice (letters, digits, ., _, -)", value);
}

/** A run: its id, or PIPELINE#NUMBER. */
export function parseRunRef(value: string): string {
  if (/^[1-9]\d{0,14}$/.test(value) || /^[^#\s]+#[1-9]\d{0,14}$/.test(value)) return value;
  throw invalid("a run id (1, 2, …) or PIPELINE#NUMBER such as ci#3", value);
}

/** A commit id as the API takes it. */
export function parseCommit(value: string): string {
  if (/^[0-9a-f]{7,64}$/i.test(value)) return value;
  throw invalid("a commit id: 7 to 64 hex digits", value);
}

/** A token id as `slipway token list` shows it. */
export function parseTokenId(value: string): string {
  if (/^tok_[a-z0-9]{4,32}$/i.test(value)) return value;
  throw invalid("a token id such as tok_3f9a2c (see `slipway token list`)", value);
}

/** `--listen HOST:PORT`. */
export function parseListen(value: string): string {
  try {
    parseListenAddress(value);
  } catch {
    throw invalid("HOST:PORT such as 127.0.0.1:7070 (port 0 to 65535)", value);
  }
  return value;
}

/** `--database-url`: a PostgreSQL URL (SQLite needs none). */
export function parseDatabaseUrl(value: string): string {
  if (/^postgres(ql)?:\/\/[^\s]+$/.test(value) && URL.canParse(value)) return value;
  throw invalid("a postgres:// URL (leave it out for the embedded SQLite store)", value);
}

/** What is wrong with a server URL, or undefined when it is one. */
function serverUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `has scheme ${url.protocol}`;
  if (url.hostname === "") return "has no host";
  if (url.username !== "" || url.password !== "") return "carries credentials (use --token)";
  // The API lives at /api/v1 of the server: a path here would be silently dropped.
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    return "has a path, query or fragment";
  }
  return undefined;
}

const SERVER_URL = "an http:// or https:// URL such as http://127.0.0.1:7070";

/** `--server URL`. */
export function parseServerUrl(value: string): string {
  const problem = serverUrlProblem(value);
  if (problem !== undefined) {
    throw new InvalidArgumentError(`expected ${SERVER_URL}; found ${quoted(value)}, which ${problem}`);
  }
  return value;
}

/** The server URL from wherever it came (`source`: "SLIPWAY_SERVER", "server in …/client.json"). */
export function checkServerUrl(value: string, source: string): string {
  const problem = serverUrlProblem(value);
  if (problem !== undefined) {
    throw new UsageError(`${source}: expected ${SERVER_URL}; found ${quoted(value)}, which ${problem}`);
  }
  return value;
}

/**
 * An API token goes into an HTTP header: printable ASCII, no spaces, at most 4 KiB. The message never
 * repeats it (it may be a real token with a stray newline), only what is wrong.
 */
export function checkToken(value: string, source: string): string {
  const problem =
    value === ""
      ? "it is empty"
      : value.length > 4096
        ? `it has ${value.length} characters`
        : /[\s]/.test(value)
          ? "it contains a space or a line break"
          : /[^\x21-\x7e]/.test(value)
            ? "it contains a character that is not printable ASCII"
            : undefined;
  if (problem !== undefined) {
    throw new UsageError(`${source}: expected an API token (printable characters, no spaces); ${problem}`);
  }
  return value;
}

/** A webhook secret as the API takes it (16 to 256 characters); never echoed. */
export function checkWebhookSecret(value: string, source: string): string {
  if (value.length < 16 || value.length > 256) {
    throw new UsageError(
      `${source}: expected a webhook secret of 16 to 256 characters; it has ${value.length}`,
      "leave it out to have one generated",
    );
  }
  return value;
}

function kindOf(path: string): "directory" | "file" | "missing" | "other" {
  const info = statSync(path, { throwIfNoEntry: false });
  if (info === undefined) return "missing";
  return info.isDirectory() ? "directory" : info.isFile() ? "file" : "other";
}

/** `--data-dir DIR`: a directory, or a path where one can be made (not a file). */
export function parseDataDir(value: string): string {
  if (value.trim() === "") throw invalid("a directory", value);
  const kind = kindOf(resolve(value));
  if (kind !== "directory" && kind !== "missing") throw invalid(`a directory, not a ${kind}`, value);
  return value;
}

/** The data directory from SLIPWAY_DATA_DIR, checked like the flag. */
export function checkDataDir(value: string, source: string): string {
  try {
    return parseDataDir(value);
  } catch (err) {
    throw new UsageError(`${source}: ${(err as Error).message}`);
  }
}

/** A file the CLI will write (`plan -o`): not a directory, in a directory that exists. */
export function parseOutputFile(value: string): string {
  if (value.trim() === "") throw invalid("a file path", value);
  const kind = kindOf(resolve(value));
  if (kind === "directory" || kind === "other") throw invalid(`a file path, not a ${kind}`, value);
  if (kindOf(dirname(resolve(value))) !== "directory") {
    throw invalid("a file path in a directory that exists", value);
  }
  return value;
}
