/** For the payload tests: copies of a fixture with one field changed or removed, by dotted path. */

export type JsonObject = Record<string, unknown>;

/** Pass as the value to remove the field. */
export const REMOVE = Symbol("remove");

/**
 * A deep copy of `payload` with the field at `path` set to `value` (or removed).
 *
 * @example
 *   edited(payload, "repository.clone_url", REMOVE);
 *   edited(payload, "commits.0.added", "not-a-list");
 */
export function edited(payload: JsonObject, path: string, value: unknown): JsonObject {
  const copy = structuredClone(payload);
  const keys = path.split(".");
  const last = keys.pop() ?? "";
  let at: JsonObject = copy;
  for (const key of keys) at = at[key] as JsonObject;
  if (value === REMOVE) Reflect.deleteProperty(at, last);
  else at[last] = value;
  return copy;
}
