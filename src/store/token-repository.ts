import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

import type { Selectable } from "kysely";

import { SlipwayError } from "../util/index.js";
import { readQuery, writeTransaction, type RepositoryContext } from "./context.js";
import type { TokensTable } from "./schema.js";
import { isBusy } from "./store-errors.js";
import type { TokenRecord, TokenRepository, TokenRole } from "./types.js";

export const TOKEN_SECRET_PREFIX = "slw_";
const TOKEN_ROLES: readonly TokenRole[] = ["admin", "operator", "viewer"];
/** base64url of 32 bytes. */
const SECRET_BODY_LENGTH = 43;
const SHOWN_PREFIX_LENGTH = 8;
/** lastUsedAt is a hint for people ("used 3 hours ago"), not an audit log: one write a minute is plenty. */
const TOUCH_INTERVAL_MS = 60_000;
const BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** `tok_` + 10 base32 characters (50 random bits): short enough to type, unique enough for a token list. */
function newTokenId(): string {
  const bytes = randomBytes(10);
  let id = "tok_";
  for (const byte of bytes) id += BASE32_ALPHABET.charAt(byte & 31);
  return id;
}

function rowToRecord(row: Selectable<TokensTable>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as TokenRole,
    prefix: row.prefix,
    createdAt: row.created_at,
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

function validateCreate(input: { name: string; role: TokenRole; createdBy: string }): void {
  if (typeof input.name !== "string" || input.name.trim() === "" || input.name.length > 100) {
    throw new SlipwayError("invalid_request", "a token needs a name of 1 to 100 characters");
  }
  if (!TOKEN_ROLES.includes(input.role)) {
    throw new SlipwayError("invalid_request", `a token's role must be one of ${TOKEN_ROLES.join(", ")}`);
  }
}

async function createToken(
  ctx: RepositoryContext,
  input: { name: string; role: TokenRole; createdBy: string },
): Promise<{ token: string; record: TokenRecord }> {
  validateCreate(input);
  const token = TOKEN_SECRET_PREFIX + randomBytes(32).toString("base64url");
  return writeTransaction(ctx, async ({ trx, at, recordEvents }) => {
    const row: Selectable<TokensTable> = {
      id: newTokenId(),
      name: input.name,
      role: input.role,
      prefix: token.slice(TOKEN_SECRET_PREFIX.length, TOKEN_SECRET_PREFIX.length + SHOWN_PREFIX_LENGTH),
      token_hash: hashSecret(token),
      created_at: at,
      created_by: input.createdBy,
      last_used_at: null,
      revoked_at: null,
    };
    await trx.insertInto("tokens").values(row).execute();
    await recordEvents([
      {
        type: "token.created",
        actor: input.createdBy,
        objectKind: "token",
        objectName: row.id,
        payload: { id: row.id, name: row.name, role: row.role },
      },
    ]);
    return { token, record: rowToRecord(row) };
  });
}

async function revokeToken(ctx: RepositoryContext, id: string, actor: string): Promise<TokenRecord> {
  return writeTransaction(ctx, async ({ trx, at, recordEvents }) => {
    const row = await trx.selectFrom("tokens").selectAll().where("id", "=", id).executeTakeFirst();
    if (row === undefined) {
      throw new SlipwayError("not_found", `no token ${id}`, {
        hint: "see `slipway token list` for the ids there are",
      });
    }
    if (row.revoked_at !== null) return rowToRecord(row);
    await trx.updateTable("tokens").set({ revoked_at: at }).where("id", "=", id).execute();
    await recordEvents([
      {
        type: "token.revoked",
        actor,
        objectKind: "token",
        objectName: id,
        payload: { id, name: row.name, role: row.role },
      },
    ]);
    return rowToRecord({ ...row, revoked_at: at });
  });
}

async function verifyToken(ctx: RepositoryContext, secret: string): Promise<TokenRecord | undefined> {
  // Cheap shape check first: garbage never costs a query.
  if (
    typeof secret !== "string" ||
    !secret.startsWith(TOKEN_SECRET_PREFIX) ||
    secret.length !== TOKEN_SECRET_PREFIX.length + SECRET_BODY_LENGTH
  ) {
    return undefined;
  }
  const hash = hashSecret(secret);
  const row = await readQuery(ctx, () =>
    ctx.db
      .selectFrom("tokens")
      .selectAll()
      .where("token_hash", "=", hash)
      .where("revoked_at", "is", null)
      .executeTakeFirst(),
  );
  // The lookup already matched the hash; comparing again in constant time costs nothing and keeps the
  // check honest if the lookup ever changes (say, to a prefix index).
  if (row === undefined || !timingSafeEqual(Buffer.from(row.token_hash, "hex"), Buffer.from(hash, "hex"))) {
    return undefined;
  }
  const now = ctx.now();
  const staleBefore = new Date(now.getTime() - TOUCH_INTERVAL_MS).toISOString();
  if (row.last_used_at !== null && row.last_used_at > staleBefore) return rowToRecord(row);
  const usedAt = now.toISOString();
  try {
    // The condition repeats the check in SQL so concurrent verifies write at most once a minute.
    await ctx.db
      .updateTable("tokens")
      .set({ last_used_at: usedAt })
      .where("id", "=", row.id)
      .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<=", staleBefore)]))
      .execute();
  } catch (e) {
    // A store that cannot take this write (busy, disk full, read-only) must not turn a valid token into a
    // failed request — reads go on working there: the touch is only a hint, and the next request a
    // minute on will make it. The failure still counts for readiness, unless it was only another
    // writer's lock: this write waits 200 ms for it, not the 5 s a transaction waits.
    const mapped = ctx.mapError(e, "write");
    if (!(mapped instanceof SlipwayError && mapped.code === "store_unavailable")) throw mapped;
    if (!isBusy(e)) ctx.writes.failed(mapped, usedAt);
    return rowToRecord(row);
  }
  return rowToRecord({ ...row, last_used_at: usedAt });
}

/**
 * API tokens. The secret (`slw_` + 43 base64url characters) is shown once by `create`; the store keeps
 * only its SHA-256, so a leaked database does not leak working tokens.
 *
 * @example
 *   const { token, record } = await store.tokens.create({ name: "ci", role: "operator", createdBy: "ana" });
 *   const who = await store.tokens.verify(token); // record, or undefined when unknown or revoked
 */
export function createTokenRepository(ctx: RepositoryContext): TokenRepository {
  return {
    create: (input) => createToken(ctx, input),
    list: async () => {
      const rows = await readQuery(ctx, () =>
        ctx.db.selectFrom("tokens").selectAll().orderBy("created_at").orderBy("id").execute(),
      );
      return rows.map(rowToRecord);
    },
    revoke: (id, actor) => revokeToken(ctx, id, actor),
    verify: (secret) => verifyToken(ctx, secret),
    count: async () => {
      const row = await readQuery(ctx, () =>
        ctx.db
          .selectFrom("tokens")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow(),
      );
      return row.n;
    },
  };
}
