import { sql, type Selectable, type Transaction } from "kysely";

import { SlipwayError } from "../util/index.js";
import { readQuery, writeTransaction, type RepositoryContext } from "./context.js";
import type { ConfigRevisionsTable, StoreDatabase } from "./schema.js";
import { isConcurrencyFailure, isUniqueViolation } from "./store-errors.js";
import type {
  ApplyInput,
  ConfigRepository,
  ConfigRevision,
  ConfigRevisionWithSource,
  EventInput,
  JsonValue,
  ObjectChangeInput,
  ObjectKind,
  StoredObject,
} from "./types.js";

const OBJECT_KINDS: readonly ObjectKind[] = ["project", "environment", "service", "pipeline"];
const DEFAULT_REVISION_LIMIT = 100;
const MAX_REVISION_LIMIT = 1000;
const PAST_TENSE = { create: "created", update: "updated", delete: "deleted" } as const;

type Trx = Transaction<StoreDatabase>;

function invalid(message: string): SlipwayError {
  return new SlipwayError("invalid_request", message);
}

function validateChange(change: ObjectChangeInput, index: number): void {
  const where = `changes[${index}]`;
  if (!["create", "update", "delete"].includes(change.action))
    throw invalid(`${where}.action is not create/update/delete`);
  if (!OBJECT_KINDS.includes(change.kind))
    throw invalid(`${where}.kind must be one of ${OBJECT_KINDS.join(", ")}`);
  if (typeof change.name !== "string" || change.name === "")
    throw invalid(`${where}.name must be a non-empty string`);
  if (change.action !== "delete" && change.spec === undefined)
    throw invalid(`${where} (${change.action}) needs a spec`);
}

function validateApplyInput(input: ApplyInput): void {
  if (!Number.isInteger(input.baseRevision) || input.baseRevision < 0) {
    throw invalid("baseRevision must be a whole number, 0 or more");
  }
  if (!Array.isArray(input.changes)) throw invalid("changes must be a list");
  input.changes.forEach(validateChange);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rowToRevision(row: Selectable<ConfigRevisionsTable>): ConfigRevision {
  return {
    revision: row.revision,
    author: row.author,
    createdAt: row.created_at,
    sourceFile: row.source_file,
    sourceHash: row.source_hash,
    gitCommit: row.git_commit,
    summary: JSON.parse(row.summary) as ConfigRevision["summary"],
  };
}

async function maxRevision(db: Pick<Trx, "selectFrom">): Promise<number> {
  const row = await db
    .selectFrom("config_revisions")
    .select(sql<number>`coalesce(max(revision), 0)`.as("revision"))
    .executeTakeFirstOrThrow();
  return row.revision;
}

function stalePlan(base: number, current: number): SlipwayError {
  return new SlipwayError(
    "stale_plan",
    `stale plan: it was made against revision ${base}, but the config is now at revision ${current}`,
    {
      hint: "run `slipway plan` again and review the new plan",
      details: { baseRevision: base, currentRevision: current },
    },
  );
}

function applyConflict(revision: number, cause: unknown): SlipwayError {
  return new SlipwayError(
    "apply_conflict",
    `another apply committed revision ${revision} first; nothing was changed`,
    {
      hint: "run `slipway plan` again and review the new plan",
      details: { revision },
      cause,
    },
  );
}

/** The planner's view disagrees with the stored objects even though the revision matched: refuse, never merge. */
function objectConflict(change: ObjectChangeInput, problem: string): SlipwayError {
  return new SlipwayError("stale_plan", `cannot ${change.action} ${change.kind} ${change.name}: ${problem}`, {
    hint: "run `slipway plan` again; the plan does not match the stored objects",
    details: { kind: change.kind, name: change.name, action: change.action },
  });
}

async function applyChange(trx: Trx, change: ObjectChangeInput, revision: number): Promise<void> {
  const spec = JSON.stringify(change.spec ?? null);
  switch (change.action) {
    case "create":
      try {
        await trx
          .insertInto("objects")
          .values({ kind: change.kind, name: change.name, spec, revision })
          .execute();
      } catch (e) {
        if (isUniqueViolation(e)) throw objectConflict(change, "it already exists");
        throw e;
      }
      return;
    case "update": {
      const result = await trx
        .updateTable("objects")
        .set({ spec, revision })
        .where("kind", "=", change.kind)
        .where("name", "=", change.name)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw objectConflict(change, "it does not exist");
      return;
    }
    case "delete": {
      const result = await trx
        .deleteFrom("objects")
        .where("kind", "=", change.kind)
        .where("name", "=", change.name)
        .executeTakeFirst();
      if (result.numDeletedRows === 0n) throw objectConflict(change, "it does not exist");
      return;
    }
    default: {
      const unreachable: never = change.action;
      throw invalid(`unknown action ${String(unreachable)}`);
    }
  }
}

function applyEvents(input: ApplyInput, revision: number): EventInput[] {
  const changed: EventInput[] = input.changes.map((change) => ({
    type: `${change.kind}.${PAST_TENSE[change.action]}`,
    actor: input.author,
    objectKind: change.kind,
    objectName: change.name,
    payload: { fields: change.fields ?? null, revision },
  }));
  const applied: EventInput = {
    type: "config.applied",
    actor: input.author,
    payload: {
      revision,
      summary: input.summary,
      sourceHash: input.sourceHash,
      gitCommit: input.gitCommit ?? null,
    },
  };
  return [...changed, applied];
}

async function apply(ctx: RepositoryContext, input: ApplyInput): Promise<ConfigRevision> {
  validateApplyInput(input);
  const revision = input.baseRevision + 1;
  try {
    return await writeTransaction(ctx, async ({ trx, at, recordEvents }) => {
      const current = await maxRevision(trx);
      if (current !== input.baseRevision) throw stalePlan(input.baseRevision, current);
      const row = {
        revision,
        author: input.author,
        created_at: at,
        source_file: input.sourceFile,
        source_hash: input.sourceHash,
        source: input.source,
        git_commit: input.gitCommit ?? null,
        summary: JSON.stringify(input.summary),
      };
      try {
        await trx.insertInto("config_revisions").values(row).execute();
      } catch (e) {
        // Only reachable if a writer skipped the write lock (or a future dialect lacks one): the PK decides.
        if (isUniqueViolation(e)) throw applyConflict(revision, e);
        throw e;
      }
      for (const change of input.changes) await applyChange(trx, change, revision);
      await recordEvents(applyEvents(input, revision));
      return rowToRevision(row);
    });
  } catch (e) {
    if (isConcurrencyFailure(e)) throw applyConflict(revision, e);
    throw e;
  }
}

async function listRevisions(
  ctx: RepositoryContext,
  opts: { limit?: number; before?: number },
): Promise<ConfigRevision[]> {
  const limit = opts.limit ?? DEFAULT_REVISION_LIMIT;
  if (!Number.isInteger(limit) || limit < 1)
    throw invalid(`limit must be a whole number from 1 to ${MAX_REVISION_LIMIT}`);
  let q = ctx.db
    .selectFrom("config_revisions")
    .select(["revision", "author", "created_at", "source_file", "source_hash", "git_commit", "summary"]);
  if (opts.before !== undefined) {
    if (!Number.isInteger(opts.before)) throw invalid("before must be a revision number");
    q = q.where("revision", "<", opts.before);
  }
  const rows = await readQuery(ctx, () =>
    q.orderBy("revision", "desc").limit(Math.min(limit, MAX_REVISION_LIMIT)).execute(),
  );
  return rows.map((row) => rowToRevision({ ...row, source: "" }));
}

async function getRevision(ctx: RepositoryContext, revision: number): Promise<ConfigRevisionWithSource> {
  if (!Number.isInteger(revision)) throw invalid("a revision is a whole number");
  const row = await readQuery(ctx, () =>
    ctx.db.selectFrom("config_revisions").selectAll().where("revision", "=", revision).executeTakeFirst(),
  );
  if (row === undefined) {
    throw new SlipwayError("not_found", `no config revision ${revision}`, {
      hint: "see `slipway config history` for the revisions there are",
    });
  }
  return { ...rowToRevision(row), source: row.source };
}

async function listObjects(ctx: RepositoryContext): Promise<StoredObject[]> {
  const rows = await readQuery(ctx, () => ctx.db.selectFrom("objects").selectAll().execute());
  // Sorted here, not in SQL: PostgreSQL orders text by its collation, SQLite by bytes.
  rows.sort((a, b) => compareText(a.kind, b.kind) || compareText(a.name, b.name));
  return rows.map((row) => ({
    kind: row.kind as ObjectKind,
    name: row.name,
    spec: JSON.parse(row.spec) as JsonValue,
    revision: row.revision,
  }));
}

/**
 * Declared config: revisions (with the source that produced them) and the objects as last applied.
 * `apply` is the only writer, and it is compare-and-set on the revision.
 *
 * @example
 *   const base = await store.config.currentRevision();
 *   // … plan against store.config.listObjects() …
 *   await store.config.apply({ baseRevision: base, author: "ana", changes, summary, source, sourceFile, sourceHash });
 */
export function createConfigRepository(ctx: RepositoryContext): ConfigRepository {
  return {
    currentRevision: () => readQuery(ctx, () => maxRevision(ctx.db)),
    listObjects: () => listObjects(ctx),
    apply: (input) => apply(ctx, input),
    listRevisions: (opts = {}) => listRevisions(ctx, opts),
    getRevision: (revision) => getRevision(ctx, revision),
  };
}
