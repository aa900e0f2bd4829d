/**
 * The config repository's contract: declared objects as last applied, and the numbered revisions each
 * apply made (with the source that produced them), so a plan can be checked against what is current.
 */
import type { JsonValue } from "./types.js";

export type ObjectKind = "project" | "environment" | "service" | "pipeline";

/** One declared object as last applied (the "current" side of a plan). */
export interface StoredObject {
  kind: ObjectKind;
  name: string;
  spec: JsonValue;
  /** Config revision that last created or changed it. */
  revision: number;
}

/** One change of an apply; computed by `config`'s planner, executed by the store. */
export interface ObjectChangeInput {
  action: "create" | "update" | "delete";
  kind: ObjectKind;
  name: string;
  /** New spec for create/update; absent for delete. */
  spec?: JsonValue;
  /** Field-level diff, recorded in the event payload so timelines can show what changed. */
  fields?: JsonValue;
}

export interface ApplyInput {
  /** Revision the plan was computed against; the apply is refused (`stale_plan`) if it moved on. */
  baseRevision: number;
  author: string;
  sourceFile: string;
  sourceHash: string;
  source: string;
  gitCommit?: string | undefined;
  changes: ObjectChangeInput[];
  summary: { add: number; change: number; delete: number };
}

export interface ConfigRevision {
  revision: number;
  author: string;
  createdAt: string;
  sourceFile: string;
  sourceHash: string;
  gitCommit: string | null;
  summary: { add: number; change: number; delete: number };
}

export interface ConfigRevisionWithSource extends ConfigRevision {
  source: string;
}

export interface ConfigRepository {
  /** 0 before the first apply. */
  currentRevision(): Promise<number>;
  listObjects(): Promise<StoredObject[]>;
  /**
   * Atomically: check `baseRevision` is current (else `stale_plan`), write the object changes, record
   * revision base+1, append one event per changed object plus `config.applied`. A concurrent apply that
   * loses the race gets `apply_conflict`. On any error nothing is written.
   */
  apply(input: ApplyInput): Promise<ConfigRevision>;
  /** Newest first; `before` pages back (revisions < before); limit default 100, max 1000. */
  listRevisions(opts?: { limit?: number; before?: number }): Promise<ConfigRevision[]>;
  /** `not_found` if absent. */
  getRevision(revision: number): Promise<ConfigRevisionWithSource>;
}
