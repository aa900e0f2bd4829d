import Fastify from "fastify";
import { describe, expect, it } from "vitest";

import type { Store, StoreWritability } from "../store/index.js";
import { storeBackends } from "../test-support/stores.js";
import { registerMetrics } from "./metrics.js";
import { readinessOf, registerReadiness, WRITE_ERROR_HOLD_MS } from "./readiness.js";

const T0 = Date.parse("2025-06-01T12:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const sqlite = { dialect: "sqlite" } as Store;
const full = (at: number) => ({ at: iso(at), cause: "SQLITE_FULL", reason: "the disk is full" });
const check = (over: Partial<StoreWritability> = {}): StoreWritability => ({
  writable: true,
  checkedAt: iso(T0),
  failedWrites: 0,
  ...over,
});

describe("readinessOf", () => {
  it("is ready when the check's write went through and no write failed lately", () => {
    expect(readinessOf(sqlite, check(), T0)).toEqual({
      status: "ready",
      store: { dialect: "sqlite", ...check() },
    });
  });

  it("names the store and its cause when the check's own write failed", () => {
    const failure = { at: iso(T0), cause: "ENOSPC", reason: "the disk is full (0 B free, 1.0 MiB needed)" };
    expect(readinessOf(sqlite, check({ writable: false, failure }), T0)).toMatchObject({
      status: "unavailable",
      reason: "store: the disk is full (0 B free, 1.0 MiB needed) (ENOSPC)",
    });
  });

  it("holds a failed write of another caller for a while, then lets the check decide", () => {
    const failed = check({ lastWriteError: full(T0), failedWrites: 1 });
    expect(readinessOf(sqlite, failed, T0 + WRITE_ERROR_HOLD_MS - 1)).toMatchObject({
      status: "unavailable",
      reason: "store: the disk is full (SQLITE_FULL)",
    });
    const later = readinessOf(sqlite, failed, T0 + WRITE_ERROR_HOLD_MS);
    expect(later.status).toBe("ready");
    // Still shown: it happened, and no write has succeeded since.
    expect(later.store.lastWriteError).toEqual(full(T0));
  });
});

describe.each(storeBackends())("/readyz and the store's metrics on $name", (backend) => {
  it("answer 200 with the store's writability, and a burst of probes makes one heartbeat write", async () => {
    const store = await backend.open();
    const app = Fastify();
    registerReadiness(app, {
      store,
      registry: registerMetrics(app),
      rollouts: { storeHold: () => ({ held: 0, unrecorded: 2 }) },
    });
    try {
      const first = await app.inject({ method: "GET", url: "/readyz" });
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({
        status: "ready",
        store: { dialect: backend.name, writable: true, failedWrites: 0 },
      });
      const beat = await backend.query(store, "select beat_at from store_heartbeat");
      expect(beat).toEqual([{ beat_at: first.json<{ store: { checkedAt: string } }>().store.checkedAt }]);
      await Promise.all(Array.from({ length: 5 }, () => app.inject({ method: "GET", url: "/readyz" })));
      expect(await backend.query(store, "select beat_at from store_heartbeat")).toEqual(beat);

      const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
      expect(metrics).toMatch(/^slipway_store_writable 1$/m);
      expect(metrics).toMatch(/^slipway_store_failed_writes_total 0$/m);
      expect(metrics).toMatch(/^slipway_rollouts_held_by_store 0$/m);
      expect(metrics).toMatch(/^slipway_rollout_decisions_unrecorded_total 2$/m);
    } finally {
      await app.close();
    }
  });
});
