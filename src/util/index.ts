/**
 * Small helpers every domain may use, with no dependency beyond Node itself: the coded error type and
 * its catalogue, free ports, private files, seeded randomness, constant-time secret comparison, an
 * event-stream reader and a bounded read of a file a person names. Keep it tiny; a helper that grows a
 * concept belongs in that concept's domain.
 */
export {
  ConfigError,
  ERROR_CATALOGUE,
  MAX_REPORTED_ISSUES,
  SlipwayError,
  clientMessage,
  isErrorCode,
  isSlipwayError,
  type ConfigIssue,
  type ErrorCode,
  type ErrorCodeEntry,
  type SlipwayErrorOptions,
} from "./errors.js";
export { gitEnv, gitSubcommand, runGit, type GitOptions } from "./git.js";
export { findFreePort, isPortFree } from "./ports.js";
export {
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  ensurePrivateDir,
  formatMode,
  privateMode,
  tightenTree,
  type LoosenedEntry,
  type TightenResult,
} from "./private-files.js";
export { createSeededRandom } from "./random.js";
export { isCredentialName, REDACTED, redactLogLine, redactText, redactValue } from "./redact.js";
export { sameSecret } from "./secrets.js";
export { parseEventStream } from "./sse.js";
export { readRegularFile, readRegularFileSync, type ReadFailure, type ReadResult } from "./read-file.js";
export { loadOrCreateSecret, writeFileAtomic } from "./private-file.js";
export { parseProcStat, readProcStat, type ProcStat } from "./proc-stat.js";
