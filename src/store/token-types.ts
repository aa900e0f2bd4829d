/**
 * The token repository's contract: API tokens with a role; the secret is shown once and only its hash
 * is kept.
 */

export type TokenRole = "admin" | "operator" | "viewer";

export interface TokenRecord {
  id: string;
  name: string;
  role: TokenRole;
  /**
   * First characters of the secret, safe to show (`slw_ab12…`): the 8 characters after `slw_`, without
   * `slw_` itself — show it as `slw_${prefix}…`.
   */
  prefix: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface TokenRepository {
  /** Returns the secret once; only its SHA-256 is stored. Appends `token.created`. */
  create(input: {
    name: string;
    role: TokenRole;
    createdBy: string;
  }): Promise<{ token: string; record: TokenRecord }>;
  list(): Promise<TokenRecord[]>;
  /** `not_found` for an unknown id; revoking twice is a no-op that returns the record. Appends `token.revoked`. */
  revoke(id: string, actor: string): Promise<TokenRecord>;
  /** The record for a valid, unrevoked secret (and touches lastUsedAt at most once a minute), else undefined. */
  verify(secret: string): Promise<TokenRecord | undefined>;
  /**
   * Every token ever created, revoked ones included — so revoking all tokens does not reopen a
   * "no tokens yet" first-run path.
   */
  count(): Promise<number>;
}
