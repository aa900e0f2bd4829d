/**
 * "Did you mean …?" for unknown keys: the valid keys at a place in the schema, a table of words people
 * bring from other tools (Kubernetes, Compose, Kamal), and edit distance for typos.
 */
import { z } from "zod";

/**
 * Keys people write out of habit from other tools, mapped to what Slipway calls them. A dotted candidate
 * ("rollout.strategy") is offered when its first part is valid where the unknown key was written. The
 * first valid candidate wins.
 */
const SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  replicas: ["instances", "run.instances"],
  scale: ["instances", "run.instances"],
  count: ["instances", "run.instances"],
  image: ["run"],
  container: ["run"],
  cmd: ["command", "run.command"],
  entrypoint: ["command", "run.command"],
  script: ["run", "command"],
  port: ["route", "listen", "router.listen"],
  ports: ["route", "router"],
  bind: ["listen", "router.listen"],
  address: ["listen", "router.listen"],
  envs: ["env", "run.env"],
  environment: ["env", "run.env", "environments"],
  variables: ["env", "run.env"],
  vars: ["env", "run.env"],
  healthcheck: ["health"],
  healthchecks: ["health"],
  probes: ["health"],
  readinessProbe: ["readiness", "health.readiness"],
  livenessProbe: ["liveness", "health.liveness"],
  strategy: ["rollout.strategy"],
  deploy: ["rollout"],
  deployment: ["rollout"],
  canary: ["rollout.steps"],
  steps: ["rollout.steps"],
  url: ["path", "route.path"],
  prefix: ["path", "route.path"],
  domain: ["host", "route.host"],
  hostname: ["host", "route.host"],
  name: ["project"],
  approval: ["approvals", "protection.approvals"],
  approvers: ["protection.approvers"],
  freeze: ["protection.freeze"],
  blackout: ["freeze", "protection.freeze"],
  period: ["interval"],
  periodSeconds: ["interval"],
  timeoutSeconds: ["timeout"],
  successThreshold: ["healthyAfter"],
  failureThreshold: ["unhealthyAfter"],
  initialDelaySeconds: ["grace"],
  initialDelay: ["grace"],
  startPeriod: ["grace"],
  secret: ["secrets", "run.secrets"],
};

/** The keys a strict object accepts at `path` (record names and list indexes are stepped over). */
export function validKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject)
      current = (current.shape as Record<string, z.ZodType>)[String(segment)];
    else if (current instanceof z.ZodRecord) current = current.valueType as z.ZodType;
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else return [];
    if (current === undefined) return [];
    current = unwrap(current);
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNullable
  ) {
    return unwrap(schema.unwrap() as z.ZodType);
  }
  if (schema instanceof z.ZodPipe) return unwrap(schema.in as z.ZodType);
  return schema;
}

/**
 * Optimal string alignment distance: Levenshtein plus swaps of neighbours ("instnaces"). With `max`, any
 * result above it is reported as `max + 1` as soon as a whole row exceeds it: callers only want close
 * names, and a file may ask about thousands of them.
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  const cols = b.length + 1;
  let before = new Int32Array(cols); // row i - 2
  let previous = Int32Array.from({ length: cols }, (_, j) => j); // row i - 1
  let current = new Int32Array(cols);
  let previousMin = 0;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, (before[j - 2] ?? 0) + 1);
      current[j] = best;
      rowMin = Math.min(rowMin, best);
    }
    // A transposition reaches back two rows, so stop only when both rows are beyond `max`.
    if (rowMin > max && previousMin > max) return max + 1;
    previousMin = rowMin;
    [before, previous, current] = [previous, current, before];
  }
  return previous[cols - 1] ?? 0;
}

/**
 * Longer words get no suggestion: nobody mistypes a 65-letter key, and the distance table grows with the
 * square of the length.
 */
export const MAX_SUGGESTED_LENGTH = 64;

/**
 * The valid key (or dotted path) most likely meant by `unknown`, or undefined when nothing is close.
 *
 * @example
 *   suggestKey("replicas", ["command", "instances", "env"]); // "instances"
 *   suggestKey("comand", ["command", "instances", "env"]); // "command"
 */
export function suggestKey(unknown: string, validKeys: readonly string[]): string | undefined {
  if (unknown.length > MAX_SUGGESTED_LENGTH) return undefined;
  const synonyms = SYNONYMS[unknown] ?? SYNONYMS[unknown.toLowerCase()] ?? [];
  const synonym = synonyms.find((candidate) => validKeys.includes(candidate.split(".")[0] ?? ""));
  if (synonym !== undefined) return synonym;
  // Case alone is the cheapest mistake; then allow about one edit per three letters.
  const lower = unknown.toLowerCase();
  const sameLetters = validKeys.find((key) => key.toLowerCase() === lower);
  if (sameLetters !== undefined) return sameLetters;
  const limit = Math.max(1, Math.floor(unknown.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const key of validKeys) {
    // The distance is at least the difference in length: a 10,000-letter key needs no table.
    if (Math.abs(key.length - unknown.length) > limit) continue;
    const distance = editDistance(lower, key.toLowerCase(), limit);
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}
