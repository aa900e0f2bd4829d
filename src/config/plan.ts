/**
 * Config as code: the objects slipway.yaml declares, the difference from what is live, and how that
 * difference reads to a person. Pure functions; the API computes the plan, the store applies it.
 */
import pc from "picocolors";
import type { JsonValue, ObjectChangeInput, ObjectKind } from "../store/index.js";
import type { SlipwayConfig } from "./schema.js";

/** One declared object. Spec keys are sorted so equal configs give byte-equal specs. */
export type DesiredObject = { kind: ObjectKind; name: string; spec: JsonValue };

/**
 * One changed leaf, e.g. `{ path: "run.instances", before: 2, after: 3 }`. No `before` means the field is
 * new, no `after` that it is gone. Arrays are leaves: a list is shown whole, as it is written.
 */
export type FieldChange = { path: string; before?: JsonValue; after?: JsonValue };

/** A change to one object; the same fields as the store's ObjectChangeInput (see {@link toChangeInputs}). */
export type ObjectChange = {
  action: "create" | "update" | "delete";
  kind: ObjectKind;
  name: string;
  /** The new spec for create and update; absent for delete. */
  spec?: JsonValue;
  fields: FieldChange[];
};

export type PlanSummary = { add: number; change: number; delete: number };

export type Plan = { changes: ObjectChange[]; summary: PlanSummary };

type JsonObject = Record<string, JsonValue>;

const KIND_ORDER: Readonly<Record<ObjectKind, number>> = {
  project: 0,
  environment: 1,
  service: 2,
  pipeline: 3,
};

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Plain JSON with object keys sorted and undefined members dropped. */
function canonical(value: unknown): JsonValue {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = canonical(member);
    }
    return out;
  }
  return value as JsonValue;
}

/**
 * The objects a config declares: the project, then each environment, service and pipeline, by name.
 *
 * @example
 *   desiredObjects(config);
 *   // [{ kind: "project", name: "shop", spec: { name: "shop" } }, { kind: "environment", name: "production", … }, …]
 */
export function desiredObjects(config: SlipwayConfig): DesiredObject[] {
  const byName = <T>(record: Record<string, T>) => Object.entries(record).sort(([a], [b]) => compare(a, b));
  return [
    { kind: "project", name: config.project, spec: { name: config.project } },
    ...byName(config.environments).map(([name, env]) => ({
      kind: "environment" as const,
      name,
      spec: canonical(env),
    })),
    ...byName(config.services).map(([name, service]) => ({
      kind: "service" as const,
      name,
      spec: canonical(service),
    })),
    ...byName(config.pipelines).map(([name, pipeline]) => ({
      kind: "pipeline" as const,
      name,
      spec: canonical(pipeline),
    })),
  ];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return false;
}

/** `run.env.NODE_ENV`; keys that would read ambiguously are quoted: `labels["a.b"]`. */
function joinPath(path: string, key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === "" ? key : `${path}.${key}`;
}

/** Leaf-level differences; a side that is an object on one side only is expanded into its leaves. */
function diffFields(
  before: JsonValue | undefined,
  after: JsonValue | undefined,
  path: string,
  out: FieldChange[],
) {
  const expandBefore = isObject(before) && (isObject(after) || after === undefined);
  const expandAfter = isObject(after) && (isObject(before) || before === undefined);
  const nonEmpty =
    (isObject(before) && Object.keys(before).length > 0) ||
    (isObject(after) && Object.keys(after).length > 0);
  if ((expandBefore || expandAfter) && nonEmpty) {
    const b = isObject(before) ? before : {};
    const a = isObject(after) ? after : {};
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort(compare);
    for (const key of keys) diffFields(b[key], a[key], joinPath(path, key), out);
    return;
  }
  if (jsonEqual(before, after)) return;
  const change: FieldChange = { path: path === "" ? "spec" : path };
  if (before !== undefined) change.before = before;
  if (after !== undefined) change.after = after;
  out.push(change);
}

function fieldsOf(before: JsonValue | undefined, after: JsonValue | undefined): FieldChange[] {
  const out: FieldChange[] = [];
  diffFields(before, after, "", out);
  return out;
}

/**
 * What applying `desired` to `current` would do. Unchanged objects are left out; changes come in the order
 * project, environments, services, pipelines, each by name.
 *
 * @example
 *   computePlan(await store.config.listObjects(), desiredObjects(loaded.config)).summary; // { add: 1, change: 0, delete: 0 }
 */
export function computePlan(
  current: readonly { kind: ObjectKind; name: string; spec: JsonValue }[],
  desired: readonly { kind: ObjectKind; name: string; spec: JsonValue }[],
): Plan {
  const id = (o: { kind: ObjectKind; name: string }) => `${o.kind}/${o.name}`;
  const live = new Map(current.map((o) => [id(o), o]));
  const wanted = new Map(desired.map((o) => [id(o), o]));
  const changes: ObjectChange[] = [];
  for (const object of wanted.values()) {
    const existing = live.get(id(object));
    const { kind, name, spec } = object;
    if (existing === undefined) {
      changes.push({ action: "create", kind, name, spec, fields: fieldsOf(undefined, spec) });
      continue;
    }
    const fields = fieldsOf(existing.spec, spec);
    if (fields.length > 0) changes.push({ action: "update", kind, name, spec, fields });
  }
  for (const object of live.values()) {
    if (wanted.has(id(object))) continue;
    changes.push({
      action: "delete",
      kind: object.kind,
      name: object.name,
      fields: fieldsOf(object.spec, undefined),
    });
  }
  changes.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compare(a.name, b.name));
  const count = (action: ObjectChange["action"]) => changes.filter((c) => c.action === action).length;
  return { changes, summary: { add: count("create"), change: count("update"), delete: count("delete") } };
}

/** The plan's changes as the store takes them (`ConfigRepository.apply`). */
export function toChangeInputs(plan: Plan): ObjectChangeInput[] {
  return plan.changes.map(({ action, kind, name, spec, fields }) =>
    spec === undefined ? { action, kind, name, fields } : { action, kind, name, spec, fields },
  );
}

export interface RenderPlanOptions {
  color: boolean;
  /** Named in the "no changes" line; default "slipway.yaml". */
  file?: string;
}

const MARKS = { create: "+", update: "~", delete: "-" } as const;

function renderValue(value: JsonValue | undefined): string {
  return value === undefined ? "(none)" : JSON.stringify(value);
}

/**
 * The plan as a person reads it, Terraform style.
 *
 * @example
 *   renderPlan(plan, { color: false });
 *   //   + environment staging
 *   //       router.listen: "127.0.0.1:8081"
 *   //   ~ service web
 *   //       run.instances: 2 → 3
 *   //   - service old
 *   //
 *   // Plan: 1 to add, 1 to change, 1 to delete.
 */
export function renderPlan(plan: Plan, options: RenderPlanOptions): string {
  const c = pc.createColors(options.color);
  if (plan.changes.length === 0)
    return `No changes. The live config matches ${options.file ?? "slipway.yaml"}.`;
  const paint = { create: c.green, update: c.yellow, delete: c.red } as const;
  const lines: string[] = [];
  for (const change of plan.changes) {
    const color = paint[change.action];
    lines.push(`  ${color(MARKS[change.action])} ${change.kind} ${c.bold(change.name)}`);
    if (change.action === "delete") continue;
    for (const field of change.fields) {
      const value =
        change.action === "create"
          ? renderValue(field.after)
          : `${renderValue(field.before)} ${c.dim("→")} ${renderValue(field.after)}`;
      lines.push(`      ${field.path}: ${value}`);
    }
  }
  const { add, change, delete: remove } = plan.summary;
  lines.push("", c.bold(`Plan: ${add} to add, ${change} to change, ${remove} to delete.`));
  return lines.join("\n");
}
