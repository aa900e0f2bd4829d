/**
 * One health probe against one instance: `check()` runs a single attempt and always answers with data
 * (`ok: false` and a detail), never by throwing, so a failing instance cannot break the loop that polls it.
 * One file per kind (probe-http, probe-tcp, probe-command); this file picks the kind and owns the timeout.
 */
import type { ProbeSpec } from "./probe-spec.js";
import { SlipwayError } from "../util/index.js";
import { commandAttempt } from "./probe-command.js";
import { httpAttempt } from "./probe-http.js";
import { tcpAttempt } from "./probe-tcp.js";

export type ProbeKind = "http" | "tcp" | "command";

export interface ProbeResult {
  ok: boolean;
  /** Wall time of the attempt in milliseconds (by the injected clock). */
  ms: number;
  /** For people: "HTTP 200", "connect ECONNREFUSED 127.0.0.1:4100", "timed out after 2000ms", "exit 1: …". */
  detail: string;
}

export interface Probe {
  readonly kind: ProbeKind;
  /** Runs one attempt. Aborting `signal` ends it at once with `ok: false`. */
  check(signal: AbortSignal): Promise<ProbeResult>;
}

/** What a probe talks to: the instance's address, and where and with what env its commands run. */
export interface ProbeTarget {
  host: string;
  port: number;
  cwd: string;
  env: Record<string, string>;
}

/** Cancels a timer set by {@link ProbeOptions.setTimeout}. */
export type CancelTimer = () => void;

export interface ProbeOptions {
  /** Milliseconds clock for `ms`; defaults to `performance.now`. */
  now?: () => number;
  /** Timer for the probe timeout; returns a cancel function (unlike the global, on purpose). */
  setTimeout?: (callback: () => void, ms: number) => CancelTimer;
}

/** What a kind implements: one attempt that settles promptly when `signal` aborts. */
export type ProbeAttempt = (signal: AbortSignal) => Promise<{ ok: boolean; detail: string }>;

/** The kind of a validated probe config (the schema guarantees exactly one is set). */
export function probeKind(spec: Pick<ProbeSpec, "http" | "tcp" | "command">): ProbeKind {
  if (spec.http !== undefined) return "http";
  if (spec.tcp === true) return "tcp";
  if (spec.command !== undefined) return "command";
  throw new SlipwayError("invalid_config", "a probe needs exactly one of http, tcp or command; found none");
}

function attemptFor(kind: ProbeKind, spec: ProbeSpec, target: ProbeTarget): ProbeAttempt {
  switch (kind) {
    case "http":
      return httpAttempt(target, spec.http ?? "/");
    case "tcp":
      return tcpAttempt(target);
    case "command":
      return commandAttempt(target, spec.command ?? "");
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown probe kind ${String(unreachable)}`);
    }
  }
}

function defaultSetTimeout(callback: () => void, ms: number): CancelTimer {
  const timer = setTimeout(callback, ms);
  return () => {
    clearTimeout(timer);
  };
}

/**
 * Builds a probe from a service's `health.readiness` or `health.liveness` block.
 *
 * @example
 *   const probe = createProbe({ http: "/healthz", timeoutMs: 2000, … }, { host: "127.0.0.1", port, cwd, env });
 *   const { ok, detail } = await probe.check(AbortSignal.timeout(5_000)); // ok: true, detail: "HTTP 200"
 */
export function createProbe(spec: ProbeSpec, target: ProbeTarget, options: ProbeOptions = {}): Probe {
  const kind = probeKind(spec);
  const attempt = attemptFor(kind, spec, target);
  const { timeoutMs } = spec;
  const now = options.now ?? (() => performance.now());
  const schedule = options.setTimeout ?? defaultSetTimeout;
  return {
    kind,
    async check(signal) {
      const started = now();
      const controller = new AbortController();
      const state = { timedOut: false };
      const cancel = schedule(() => {
        state.timedOut = true;
        controller.abort();
      }, timeoutMs);
      const forward = () => {
        controller.abort();
      };
      signal.addEventListener("abort", forward, { once: true });
      if (signal.aborted) controller.abort();
      try {
        const { ok, detail } = await attempt(controller.signal);
        const why = state.timedOut ? `timed out after ${timeoutMs}ms` : signal.aborted ? "aborted" : detail;
        return { ok: ok && !controller.signal.aborted, ms: now() - started, detail: why };
      } catch (e) {
        // Attempts are written not to throw; this is the net under them, so the poller never dies.
        return { ok: false, ms: now() - started, detail: e instanceof Error ? e.message : String(e) };
      } finally {
        cancel();
        signal.removeEventListener("abort", forward);
      }
    },
  };
}
