import { statfs } from "node:fs/promises";
import { dirname } from "node:path";

import { SlipwayError } from "../util/index.js";
import type { RepositoryContext } from "./context.js";
import { serializeWrites } from "./event-log.js";
import { errorCode } from "./store-errors.js";
import type { StoreWritability, StoreWriteFailure } from "./types.js";

/**
 * Below this much free space the SQLite store reports itself unwritable. Trap: a full disk still takes
 * small commits for a while, because SQLite reuses the space of its WAL file after a checkpoint (on a
 * full tmpfs, 181 one-row commits went through before the first SQLITE_FULL); a heartbeat alone would
 * say "writable" while bigger writes (an apply, a release) fail. The reserve covers an apply's largest
 * source and the WAL frames around it.
 */
export const MIN_FREE_BYTES = 1024 * 1024;

/** The store's failure as readiness shows it, or undefined for an error that is not the store's. */
export function writeFailureOf(error: unknown, at: string): StoreWriteFailure | undefined {
  if (!(error instanceof SlipwayError) || error.code !== "store_unavailable") return undefined;
  const details = error.details as { cause?: unknown; reason?: unknown } | undefined;
  if (typeof details?.cause !== "string" || typeof details.reason !== "string") return undefined;
  return { at, cause: details.cause, reason: details.reason };
}

/**
 * The outcome of every write transaction of the store, so readiness can tell "the last write failed
 * because of the store" without waiting for its own probe to run into the same wall.
 */
export class WriteOutcomes {
  #last: StoreWriteFailure | undefined;
  #failed = 0;

  failed(error: unknown, at: string): void {
    const failure = writeFailureOf(error, at);
    if (failure === undefined) return;
    this.#last = failure;
    this.#failed += 1;
  }

  succeeded(): void {
    this.#last = undefined;
  }

  get last(): StoreWriteFailure | undefined {
    return this.#last;
  }

  get failedWrites(): number {
    return this.#failed;
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.floor(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

/** The SQLite file's disk, when it has less than the reserve free (root may use the blocks kept for root). */
async function lowDiskSpace(file: string, at: string): Promise<StoreWriteFailure | undefined> {
  let free: number;
  try {
    const stats = await statfs(dirname(file));
    free = (process.getuid?.() === 0 ? stats.bfree : stats.bavail) * stats.bsize;
  } catch {
    // Not knowing is not a failure: the heartbeat write still tells.
    return undefined;
  }
  if (free >= MIN_FREE_BYTES) return undefined;
  return {
    at,
    cause: "ENOSPC",
    reason: `the disk is full (${formatBytes(free)} free, ${formatBytes(MIN_FREE_BYTES)} needed)`,
  };
}

/** One committed write of the heartbeat row; the failure when it cannot be made. */
async function beat(ctx: RepositoryContext, at: string): Promise<StoreWriteFailure | undefined> {
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await serializeWrites(trx, ctx.dialect);
      await trx
        .insertInto("store_heartbeat")
        .values({ id: 1, beat_at: at })
        .onConflict((oc) => oc.column("id").doUpdateSet({ beat_at: at }))
        .execute();
    });
    return undefined;
  } catch (e) {
    const mapped = ctx.mapError(e, "write");
    ctx.writes.failed(mapped, at);
    return (
      writeFailureOf(mapped, at) ?? {
        at,
        cause: errorCode(e) ?? "error",
        reason: "the heartbeat write failed",
      }
    );
  }
}

/**
 * Readiness of the store for writes: free space first on SQLite (no write is tried on a full disk),
 * then a committed heartbeat write. The heartbeat's success does not clear the last failed write of
 * another caller: a small commit can go through where a real one failed (see MIN_FREE_BYTES).
 */
export async function checkWritable(ctx: RepositoryContext): Promise<StoreWritability> {
  const checkedAt = ctx.now().toISOString();
  const failure =
    (ctx.dialect === "sqlite" ? await lowDiskSpace(ctx.location, checkedAt) : undefined) ??
    (await beat(ctx, checkedAt));
  const last = ctx.writes.last;
  return {
    writable: failure === undefined,
    checkedAt,
    ...(failure === undefined ? {} : { failure }),
    ...(last === undefined ? {} : { lastWriteError: last }),
    failedWrites: ctx.writes.failedWrites,
  };
}
