import type { Generated, Kysely } from "kysely";

/**
 * Row shapes as the database holds them. Portable on purpose: timestamps are ISO-8601 text (they sort
 * correctly as strings), JSON is text, numbers are integers. Repositories convert rows to the contract's
 * types in `types.ts`; nothing outside `src/store/` sees these.
 */
export interface ConfigRevisionsTable {
  revision: number;
  author: string;
  created_at: string;
  source_file: string;
  source_hash: string;
  source: string;
  git_commit: string | null;
  /** JSON: `{ add, change, delete }`. */
  summary: string;
}

export interface ObjectsTable {
  kind: string;
  name: string;
  /** JSON. */
  spec: string;
  revision: number;
}

export interface EventsTable {
  id: Generated<number>;
  at: string;
  type: string;
  actor: string;
  object_kind: string | null;
  object_name: string | null;
  /** JSON. */
  payload: string;
}

export interface TokensTable {
  id: string;
  name: string;
  role: string;
  prefix: string;
  token_hash: string;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface StoreDatabase {
  config_revisions: ConfigRevisionsTable;
  objects: ObjectsTable;
  events: EventsTable;
  tokens: TokensTable;
}

export type StoreDb = Kysely<StoreDatabase>;

export type Dialect = "sqlite" | "postgres";
