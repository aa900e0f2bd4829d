/**
 * The data directory is the user's alone (see src/util/private-files.ts for the rule). On every start
 * the directory itself and what sits directly in it are made owner-only; the first start of a version
 * that knows the rule also walks everything an earlier version left (releases, pipeline workspaces,
 * logs, the agent's files) and leaves a marker, so later starts do not walk thousands of release files.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import {
  ensurePrivateDir,
  formatMode,
  PRIVATE_FILE_MODE,
  tightenTree,
  type TightenResult,
} from "../util/index.js";

/** Present once every entry of the data directory was made owner-only. */
export const PRIVATE_MARKER = ".private-v1";

/** Loosened entries named one per line, up to this many; the rest are counted in one more line. */
const NAMED_AT_MOST = 10;

/**
 * Creates the data directory (0700) or makes an existing one owner-only. Never throws: what cannot
 * be created or changed is reported, and the store explains an unwritable directory when it opens.
 */
export async function secureDataDir(dataDir: string): Promise<TightenResult> {
  try {
    ensurePrivateDir(dataDir);
  } catch (err) {
    return {
      loosened: [],
      failed: [{ path: dataDir, code: (err as NodeJS.ErrnoException).code ?? String(err) }],
    };
  }
  const marker = join(dataDir, PRIVATE_MARKER);
  const walked = existsSync(marker);
  const result = await tightenTree(dataDir, walked ? 1 : Infinity);
  if (!walked && result.failed.length === 0) {
    try {
      writeFileSync(marker, "every entry of this directory was made owner-only (0700/0600)\n", {
        mode: PRIVATE_FILE_MODE,
      });
    } catch {
      // The next start walks again; nothing is lost.
    }
  }
  return result;
}

/** One warning per entry that let others in (path and old mode), and one for what could not be changed. */
export function reportTightened(logger: Logger, result: TightenResult): void {
  for (const entry of result.loosened.slice(0, NAMED_AT_MOST)) {
    logger.warn(
      { path: entry.path, oldMode: formatMode(entry.mode) },
      `${entry.path} was ${formatMode(entry.mode)}: made it owner-only; the data directory holds credentials`,
    );
  }
  const more = result.loosened.length - NAMED_AT_MOST;
  if (more > 0)
    logger.warn({ count: more }, `${more} more entries of the data directory were made owner-only`);
  if (result.failed.length > 0) {
    logger.warn(
      { failed: result.failed.slice(0, NAMED_AT_MOST), count: result.failed.length },
      `could not make ${result.failed.length} entries of the data directory owner-only`,
    );
  }
}
