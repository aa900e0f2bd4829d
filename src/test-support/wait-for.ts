/**
 * The one way tests wait for something to happen: poll a condition until it holds, with a deadline.
 * Tests must not assert after a fixed sleep (too short on a loaded machine, too long everywhere else),
 * and a hand-written poll loop tends to lose the deadline or the reason it gave up. When the deadline
 * passes, the error names what was awaited and the last value or exception seen, which is usually the
 * whole diagnosis.
 *
 * @example
 *   const run = await waitFor(async () => {
 *     const r = await store.pipelines.getRun(id);
 *     return r.status === "succeeded" && r;
 *   }, { what: `run ${id} to succeed` });
 */
import { inspect } from "node:util";

/** What `waitFor` returns: the condition's value once it is truthy. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | "" | null | undefined>;

export interface WaitForOptions {
  /** Named in the error: "the canary to be ready". */
  what: string;
  /** How long to keep trying; 10 s by default, well inside vitest's 30 s test timeout. */
  timeoutMs?: number;
  /** Pause between tries; 20 ms by default. */
  intervalMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_INTERVAL_MS = 20;

type Observation = { kind: "none" } | { kind: "value"; value: unknown } | { kind: "error"; error: unknown };

function describe(last: Observation): string {
  switch (last.kind) {
    case "none":
      return "the condition was never evaluated";
    case "value":
      return `last value: ${inspect(last.value, { depth: 4, breakLength: Infinity })}`;
    case "error":
      return `last exception: ${last.error instanceof Error ? last.error.message : inspect(last.error)}`;
    default: {
      const unreachable: never = last;
      return unreachable;
    }
  }
}

/**
 * Calls `condition` (sync or async) until it returns a truthy value, which is returned. An exception
 * thrown by the condition counts as "not yet" (the thing awaited may not exist yet); after the deadline
 * the error names `what` and the last value or exception (kept as `cause`).
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let last: Observation = { kind: "none" };
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
      last = { kind: "value", value };
    } catch (error) {
      last = { kind: "error", error };
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, deadline - Date.now())));
  }
  throw new Error(`gave up after ${timeoutMs} ms waiting for ${options.what}; ${describe(last)}`, {
    cause: last.kind === "error" ? last.error : undefined,
  });
}
