/**
 * The repositories Slipway watches (for pushes, by polling or by webhook).
 *
 * Secrets: a repository's webhook secret arrives SEALED under the data key (src/secrets); the store
 * checks that it is a sealed value and never sees it in clear. Rows written before migration 0004 hold
 * it in clear until `sealClearWebhookSecrets` (called at start) seals them all in one transaction. The
 * local hook's token is stored as a SHA-256 hash, like API tokens. The deliveries seen for these
 * repositories are in webhook-deliveries.ts.
 */
import { randomBytes } from "node:crypto";
import { isAbsolute } from "node:path";

import type { Selectable, Transaction } from "kysely";

import { sealedKeyId } from "../secrets/index.js";
import { SlipwayError } from "../util/index.js";
import { readQuery, type RepositoryContext } from "./context.js";
import {
  compareText,
  invalid,
  isPlainObject,
  requireHash,
  requireName,
  requireOneOf,
  write,
} from "./repository-support.js";
import type { RepositoriesTable, StoreDatabase } from "./schema.js";
import type { RepositoryInput, WatchedRepository } from "./types.js";

type Trx = Transaction<StoreDatabase>;

/** The same rule as a label in slipway.yaml (`config/names.ts`); repeated so the store needs no zod. */
const LABEL = /^[a-z][a-z0-9-]{0,62}$/;
const REPOSITORY_ID = /^repo_[a-z2-7]{10}$/;
const REPOSITORY_KINDS: readonly RepositoryInput["kind"][] = ["path", "url"];
const BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** `repo_` + 10 base32 characters (50 random bits), like token ids. */
export function newRepositoryId(): string {
  let id = "repo_";
  for (const byte of randomBytes(10)) id += BASE32_ALPHABET.charAt(byte & 31);
  return id;
}

// ---------------------------------------------------------------------------------------------------
// Validation, before any transaction.

export function requireLabel(value: unknown, what: string): string {
  if (typeof value !== "string" || !LABEL.test(value)) {
    throw invalid(
      `${what} must be a lowercase name of letters, digits and "-", starting with a letter, at most 63` +
        (typeof value === "string" ? ` (got ${JSON.stringify(value.slice(0, 80))})` : ""),
    );
  }
  return value;
}
type ValidRepository = Required<RepositoryInput> & { hookTokenHash: string | null };

function validateRepositoryInput(input: RepositoryInput): ValidRepository {
  if (!isPlainObject(input))
    throw invalid("a repository needs { name, location, kind, sealedWebhookSecret, createdBy }");
  const kind = requireOneOf(input.kind, REPOSITORY_KINDS, "kind");
  const location = requireName(input.location, "location");
  if (kind === "path" && !isAbsolute(location)) {
    throw invalid(`a path repository's location must be an absolute path (got ${JSON.stringify(location)})`);
  }
  const id = input.id ?? newRepositoryId();
  if (typeof id !== "string" || !REPOSITORY_ID.test(id))
    throw invalid("id must be repo_ + 10 base32 characters");
  // Never echo the value: if a caller passed a clear secret by mistake, the error must not show it.
  if (typeof input.sealedWebhookSecret !== "string" || sealedKeyId(input.sealedWebhookSecret) === undefined) {
    throw invalid(
      "sealedWebhookSecret must be a value sealed under the data key (src/secrets), never clear text",
    );
  }
  const hookTokenHash =
    input.hookTokenHash === undefined || input.hookTokenHash === null
      ? null
      : requireHash(input.hookTokenHash, "hookTokenHash");
  return {
    id,
    name: requireLabel(input.name, "name"),
    location,
    kind,
    sealedWebhookSecret: input.sealedWebhookSecret,
    hookTokenHash,
    createdBy: requireName(input.createdBy, "createdBy"),
  };
}

function validateHeads(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw invalid("heads must be an object of refs to commit ids");
  const heads: Record<string, string> = {};
  for (const [ref, sha] of Object.entries(value)) {
    if (ref === "") throw invalid("heads must not have an empty ref");
    heads[ref] = requireName(sha, `heads[${JSON.stringify(ref)}]`);
  }
  return heads;
}
// ---------------------------------------------------------------------------------------------------
// Rows.

function rowToRepository(row: Selectable<RepositoriesTable>): WatchedRepository {
  return {
    id: row.id,
    name: row.name,
    location: row.location,
    kind: row.kind as RepositoryInput["kind"],
    sealedWebhookSecret: row.webhook_secret_sealed,
    hookTokenHash: row.hook_token_hash,
    createdBy: row.created_by,
    createdAt: row.created_at,
    heads: JSON.parse(row.heads) as Record<string, string>,
  };
}

function repositoryNotFound(idOrName: string): SlipwayError {
  return new SlipwayError("not_found", `no watched repository ${idOrName}`);
}

function repositoryTaken(field: "name" | "location", value: string, holder: string): SlipwayError {
  const message =
    field === "name"
      ? `a repository named ${value} already exists; nothing was added`
      : `repository ${holder} already watches ${value}; nothing was added`;
  return new SlipwayError("already_exists", message, {
    hint: field === "name" ? "choose another name" : `remove ${holder} first`,
    details: { [field]: value, repository: holder },
  });
}

function selectRepository(db: Pick<Trx, "selectFrom">, idOrName: string) {
  return db
    .selectFrom("repositories")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------------
// Repositories.

export async function addRepository(
  ctx: RepositoryContext,
  raw: RepositoryInput,
): Promise<WatchedRepository> {
  const input = validateRepositoryInput(raw);
  return write(ctx, `adding repository ${input.name}`, async ({ trx, at, recordEvents }) => {
    const taken = await trx
      .selectFrom("repositories")
      .select(["id", "name", "location"])
      .where((eb) =>
        eb.or([eb("name", "=", input.name), eb("location", "=", input.location), eb("id", "=", input.id)]),
      )
      .execute();
    const byName = taken.find((r) => r.name === input.name);
    if (byName !== undefined) throw repositoryTaken("name", input.name, byName.name);
    const byLocation = taken.find((r) => r.location === input.location);
    if (byLocation !== undefined) throw repositoryTaken("location", input.location, byLocation.name);
    if (taken.length > 0) throw new SlipwayError("already_exists", `repository id ${input.id} is taken`);

    const row: Selectable<RepositoriesTable> = {
      id: input.id,
      name: input.name,
      location: input.location,
      kind: input.kind,
      webhook_secret: "",
      webhook_secret_sealed: input.sealedWebhookSecret,
      hook_token_hash: input.hookTokenHash,
      created_by: input.createdBy,
      created_at: at,
      heads: "{}",
    };
    await trx.insertInto("repositories").values(row).execute();
    await recordEvents([
      {
        type: "repository.added",
        actor: input.createdBy,
        objectKind: "repository",
        objectName: row.name,
        // Never a secret: events are readable by every viewer.
        payload: { id: row.id, location: row.location, kind: row.kind },
      },
    ]);
    return rowToRepository(row);
  });
}

export async function listRepositories(ctx: RepositoryContext): Promise<WatchedRepository[]> {
  const rows = await readQuery(ctx, () => ctx.db.selectFrom("repositories").selectAll().execute());
  // Sorted here, not in SQL: PostgreSQL orders text by its collation, SQLite by bytes.
  rows.sort((a, b) => compareText(a.name, b.name));
  return rows.map(rowToRepository);
}

export async function findRepository(
  ctx: RepositoryContext,
  idOrName: string,
): Promise<WatchedRepository | undefined> {
  requireName(idOrName, "a repository id or name");
  const row = await readQuery(ctx, () => selectRepository(ctx.db, idOrName));
  return row === undefined ? undefined : rowToRepository(row);
}

export async function removeRepository(
  ctx: RepositoryContext,
  idOrName: string,
  actor: string,
): Promise<void> {
  requireName(idOrName, "a repository id or name");
  requireName(actor, "actor");
  await write(ctx, `removing repository ${idOrName}`, async ({ trx, recordEvents }) => {
    const row = await selectRepository(trx, idOrName);
    if (row === undefined) throw repositoryNotFound(idOrName);
    await trx.deleteFrom("repositories").where("id", "=", row.id).execute();
    await recordEvents([
      {
        type: "repository.removed",
        actor,
        objectKind: "repository",
        objectName: row.name,
        payload: { id: row.id, location: row.location, kind: row.kind },
      },
    ]);
  });
}

export async function setRepositoryHeads(
  ctx: RepositoryContext,
  id: string,
  rawHeads: Record<string, string>,
): Promise<void> {
  requireName(id, "a repository id");
  const heads = JSON.stringify(validateHeads(rawHeads));
  await write(ctx, `recording the heads of repository ${id}`, async ({ trx }) => {
    const result = await trx
      .updateTable("repositories")
      .set({ heads })
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw repositoryNotFound(id);
  });
}

export async function setHookTokenHash(
  ctx: RepositoryContext,
  id: string,
  hash: string | null,
): Promise<void> {
  requireName(id, "a repository id");
  const value = hash === null ? null : requireHash(hash, "hash");
  await write(ctx, `replacing the hook token of repository ${id}`, async ({ trx }) => {
    const result = await trx
      .updateTable("repositories")
      .set({ hook_token_hash: value })
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw repositoryNotFound(id);
  });
}

export async function sealClearWebhookSecrets(
  ctx: RepositoryContext,
  seal: (id: string, clear: string) => string,
): Promise<string[]> {
  return write(ctx, "sealing clear webhook secrets", async ({ trx }) => {
    const rows = await trx
      .selectFrom("repositories")
      .select(["id", "webhook_secret"])
      .where("webhook_secret_sealed", "is", null)
      .execute();
    for (const row of rows) {
      const sealed = seal(row.id, row.webhook_secret);
      if (sealedKeyId(sealed) === undefined) throw invalid("seal must return a sealed value");
      await trx
        .updateTable("repositories")
        .set({ webhook_secret_sealed: sealed, webhook_secret: "" })
        .where("id", "=", row.id)
        .execute();
    }
    return rows.map((r) => r.id).sort(compareText);
  });
}
