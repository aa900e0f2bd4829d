/**
 * Typed JSON columns. The store keeps a rollout's state, a run's state, a pipeline's spec, a release's
 * service config and a verdict as JSON it does not look into; the domain that owns each shape reads and
 * writes it through one codec, so the shape is checked where it enters the process (a row written by
 * an older version, or edited by hand, is refused with the row named instead of failing later somewhere
 * else), and a shape can change with a migration instead of a cast.
 *
 * Stored form: `{ "$v": <version>, "data": <value> }`. A row without the envelope is a row written
 * before codecs existed and is read as version 1. Reading a row of an older version runs the codec's
 * migrations in order (`migrations[2]` turns a version-1 value into a version-2 one, and so on), then
 * checks the result against the schema; nothing is written back until the owner saves the row again.
 *
 * A value that carries its own version (a rollout's state has `v`) names that field as `versionField`:
 * it is stored bare, its version read from the field (absent: 1), so what the API shows as stored is the
 * value itself, never an envelope.
 *
 * @example
 *   const RunStateCodec = defineCodec({ name: "pipeline run state", version: 1, schema: RunStateSchema });
 *   const state = RunStateCodec.decode(row.state, `pipeline run ${row.id}`); // RunState, or throws
 *   await store.pipelines.updateRun({ ..., state: RunStateCodec.encode(state) });
 */
import type { z } from "zod";
import { SlipwayError } from "../util/index.js";
import type { JsonValue } from "./types.js";

export interface JsonCodec<T> {
  readonly name: string;
  readonly version: number;
  /** The stored form of `value`, with this codec's version. */
  encode(value: T): JsonValue;
  /** The value of a stored row, migrated to this version and checked; `state_unreadable` otherwise. */
  decode(stored: JsonValue, where: string): T;
}

export interface CodecDefinition<S extends z.ZodType> {
  /** What the column holds, for messages: `rollout state`. */
  name: string;
  /** The version written now; starts at 1 (rows from before codecs are version 1). */
  version: number;
  schema: S;
  /** `migrations[n]` turns a version n-1 value into a version n value, for n from 2 to `version`. */
  migrations?: Readonly<Record<number, (previous: unknown) => unknown>>;
  /** The value's own field holding its version: stored bare, no envelope (see above). */
  versionField?: string;
}

const VERSION = "$v";

function envelope(stored: JsonValue, versionField: string | undefined): { version: number; data: unknown } {
  const isObject = stored !== null && typeof stored === "object" && !Array.isArray(stored);
  if (versionField !== undefined) {
    const version = isObject ? stored[versionField] : undefined;
    const ok = typeof version === "number" && Number.isInteger(version) && version >= 1;
    return { version: ok ? version : 1, data: stored };
  }
  if (isObject && VERSION in stored) {
    const version = stored[VERSION];
    if (typeof version === "number" && Number.isInteger(version) && version >= 1 && "data" in stored) {
      return { version, data: stored.data };
    }
  }
  return { version: 1, data: stored };
}

/**
 * A codec for one JSON column. `encode` does not check (the value is typed); `decode` always does.
 * The schema should describe the value as the code uses it (defaults applied), not be looser.
 */
export function defineCodec<S extends z.ZodType>(definition: CodecDefinition<S>): JsonCodec<z.output<S>> {
  const { name, version, schema, migrations = {}, versionField } = definition;
  for (let n = 2; n <= version; n++) {
    if (migrations[n] === undefined) throw new Error(`${name} codec: no migration to version ${n}`);
  }
  return {
    name,
    version,
    encode(value) {
      if (versionField !== undefined) return value as JsonValue;
      return { [VERSION]: version, data: value as JsonValue };
    },
    decode(stored, where) {
      const found = envelope(stored, versionField);
      if (found.version > version) {
        throw new SlipwayError(
          "state_unreadable",
          `${where}: its ${name} was written by a newer Slipway (version ${found.version}; this one reads up to ${version})`,
          { hint: "run the Slipway version that wrote it, or a newer one" },
        );
      }
      let data = found.data;
      for (let n = found.version + 1; n <= version; n++) data = migrations[n]?.(data);
      const parsed = schema.safeParse(data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const at = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`;
        throw new SlipwayError(
          "state_unreadable",
          `${where}: its stored ${name} is not what this version expects${at}: ${issue?.message ?? "invalid"}`,
          { details: { where, column: name, version: found.version } },
        );
      }
      return parsed.data;
    },
  };
}
