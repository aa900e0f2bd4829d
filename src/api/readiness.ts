import type { FastifyInstance } from "fastify";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Store, StoreWritability } from "../store/index.js";

/** A check's answer is reused this long: probes and scrapes in a burst make one heartbeat write. */
const CHECK_CACHE_MS = 1_000;
/**
 * A failed write of any caller keeps /readyz at 503 this long (unless a write succeeded since). Not
 * forever: an idle store whose disk was freed would otherwise stay "unavailable" until its next write;
 * the check's own probe (free space, heartbeat) tells from then on.
 */
export const WRITE_ERROR_HOLD_MS = 10_000;

export interface ReadinessOptions {
  store: Store;
  /** The server's Prometheus registry (see metrics.ts). */
  registry: Registry;
  /** The rollout controller, when there is one: its rollouts held by the store go to /metrics. */
  rollouts?: { storeHold(): { held: number; unrecorded: number } } | undefined;
  now?: () => number;
}

export interface Readiness {
  status: "ready" | "unavailable";
  /** Why not, for people: "store: the disk is full (ENOSPC)". */
  reason?: string;
  store: { dialect: Store["dialect"] } & StoreWritability;
}

/** Ready when the store takes a committed write and no write failed (without a success since) lately. */
export function readinessOf(store: Store, check: StoreWritability, now: number): Readiness {
  const recent =
    check.lastWriteError !== undefined && now - Date.parse(check.lastWriteError.at) < WRITE_ERROR_HOLD_MS
      ? check.lastWriteError
      : undefined;
  const failure = check.failure ?? recent;
  const body = { store: { dialect: store.dialect, ...check } };
  if (failure === undefined) return { status: "ready", ...body };
  return { status: "unavailable", reason: `store: ${failure.reason} (${failure.cause})`, ...body };
}

/**
 * `/readyz` (no token: it says only the dialect, codes and reasons, never a path, a host or a driver
 * message) and the store's gauges on /metrics. One check runs at a time; its answer is reused for a
 * second.
 */
export function registerReadiness(app: FastifyInstance, options: ReadinessOptions): void {
  const now = options.now ?? Date.now;
  let cached: { at: number; check: Promise<StoreWritability> } | undefined;
  const check = (): Promise<StoreWritability> => {
    const at = now();
    if (cached === undefined || at - cached.at >= CHECK_CACHE_MS) {
      cached = { at, check: options.store.checkWritable() };
    }
    return cached.check;
  };

  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
    const readiness = readinessOf(options.store, await check(), now());
    return reply.code(readiness.status === "ready" ? 200 : 503).send(readiness);
  });
  registerStoreMetrics(options, check);
}

function registerStoreMetrics(options: ReadinessOptions, check: () => Promise<StoreWritability>): void {
  const registers = [options.registry];
  new Gauge({
    name: "slipway_store_writable",
    help: "1 when the store takes a committed write (free space on SQLite, the heartbeat row), else 0.",
    registers,
    async collect() {
      this.set((await check()).writable ? 1 : 0);
    },
  });
  new Counter({
    name: "slipway_store_failed_writes_total",
    help: "Writes the store refused because of itself (disk full, read-only, unreachable), since start.",
    registers,
    async collect() {
      this.reset();
      this.inc((await check()).failedWrites);
    },
  });
  const rollouts = options.rollouts;
  if (rollouts === undefined) return;
  new Gauge({
    name: "slipway_rollouts_held_by_store",
    help: "Rollouts holding where they are because the store cannot record their next decision.",
    registers,
    collect() {
      this.set(rollouts.storeHold().held);
    },
  });
  new Counter({
    name: "slipway_rollout_decisions_unrecorded_total",
    help: "Rollout controller writes the store refused (decisions not recorded, so not acted on).",
    registers,
    collect() {
      this.reset();
      this.inc(rollouts.storeHold().unrecorded);
    },
  });
}
