/**
 * A real full disk under a running control plane, end to end: the data directory (store, logs,
 * releases, the agent's files) on a small tmpfs, a real node agent and a real control plane as child
 * processes, a canary rollout under steady traffic, then the disk filled to the last page and freed
 * again. Needs root to mount (CI runs as root); skipped with the reason otherwise.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ensureBuilt, ProcessWorld } from "../rollout/process-fixtures.js";
import { startLoad, type LoadResult } from "../rollout/test-fixtures.js";
import type { RolloutState } from "../rollout/index.js";
import type { Rollout } from "../store/index.js";
import { SmallDisk, smallDiskSkipReason } from "../test-support/small-disk.js";
import { waitFor } from "../test-support/wait-for.js";

/** One 30% step held 4 s and judged every second, and an 8 s progress deadline the outage outlasts. */
const ROLLOUT =
  "{ strategy: canary, steps: [{ weight: 30, pause: 4s }], progressDeadline: 8s, " +
  "analysis: { interval: 1s, minSamples: 10, checks: [{ metric: error-rate, max: 5% }] } }";
const OUTAGE_MS = 12_000;

/** A ProcessWorld whose data directory is the small disk (the artifacts stay in its own temp root). */
class SmallDiskWorld extends ProcessWorld {
  override readonly dataDir: string;

  constructor(disk: SmallDisk) {
    super();
    this.dataDir = `${disk.dir}/data`;
  }
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

function allOk(seen: LoadResult): void {
  expect(seen.socketErrors).toBe(0);
  expect(Object.keys(seen.byStatus)).toEqual(["200"]);
}

const skip = smallDiskSkipReason();

describe.skipIf(skip !== undefined)(
  `a full disk under a rollout${skip === undefined ? "" : ` (${skip})`}`,
  () => {
    let disk: SmallDisk | undefined;
    let world: SmallDiskWorld | undefined;
    let load: ReturnType<typeof startLoad> | undefined;

    beforeAll(() => {
      ensureBuilt();
    }, 180_000);

    afterAll(async () => {
      await load?.stop();
      disk?.free();
      await world?.stop();
      disk?.unmount();
    });

    async function call(method: string, path: string, body?: unknown, token = true): Promise<Answer> {
      const res = await request(`${world!.apiUrl}${path}`, {
        method: method as "GET",
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
        headers: {
          ...(token ? { authorization: `Bearer ${world!.token}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.body.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { text };
      }
      return { status: res.statusCode, body: parsed };
    }

    /** Token creations until one is refused: a full disk still takes a few small commits (WAL reuse). */
    async function refusedWrite(): Promise<Answer> {
      for (let i = 0; i < 500; i += 1) {
        const answer = await call("POST", "/api/v1/tokens", { name: `probe-${i}`, role: "viewer" });
        expect(answer.status, JSON.stringify(answer.body)).not.toBe(500);
        if (answer.status !== 201) return answer;
      }
      throw new Error("500 writes went through on a full disk");
    }

    it("reads answer, writes are 503 with the cause, /readyz tells, traffic flows, the rollout holds; then it completes", async () => {
      disk = SmallDisk.mount(48);
      const w = (world = new SmallDiskWorld(disk));
      await w.start({ rollout: ROLLOUT });
      const controlPlane = w.controlPlane!;
      await w.waitFor((await w.deploy("v1")).id, ["succeeded"]);
      load = startLoad(w.routerUrl, 50);
      const { id } = await w.deploy("v2");
      await w.waitUntil(id, (r, s) => r.status === "progressing" && s.phase === "step", "in its canary step");

      disk.fill();
      const filledAt = load.snapshot();

      // Writes: 503 store_unavailable naming the full disk, never a 500.
      const refused = await refusedWrite();
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ code: "store_unavailable", errors: { cause: "SQLITE_FULL" } });
      expect(String(refused.body.detail)).toMatch(/disk is full \(SQLITE_FULL/);

      // /readyz says why; /healthz and reads answer.
      const ready = await call("GET", "/readyz", undefined, false);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({
        status: "unavailable",
        store: { dialect: "sqlite", writable: false },
      });
      expect(String(ready.body.reason)).toMatch(/^store: the disk is full/);
      // No token needed for /readyz, so it says codes and reasons, never where the data lives.
      expect(JSON.stringify(ready.body)).not.toContain(disk.dir);
      expect((await call("GET", "/healthz", undefined, false)).status).toBe(200);
      expect((await call("GET", "/api/v1/deployments")).status).toBe(200);
      expect((await call("GET", "/api/v1/events?limit=5")).status).toBe(200);

      // The rollout holds where it is once its next decision was refused.
      await w.waitUntil(id, () => true, "readable");
      const heldMetric = async () =>
        metric(await (await fetch(`${w.apiUrl}/metrics`)).text(), "slipway_rollouts_held_by_store");
      await waitFor(async () => (await heldMetric()) === 1, {
        what: "slipway_rollouts_held_by_store to be 1",
        intervalMs: 200,
      });
      const held: Rollout = await w.rollout(id);
      await sleep(OUTAGE_MS); // the outage itself: nothing may move while it lasts
      const still = await w.rollout(id);
      expect(still.status).toBe("progressing");
      expect(still.revision).toBe(held.revision);
      expect((still.state as unknown as RolloutState).weight).toBe(30);
      const during = load.snapshot();
      allOk(during);
      expect(during.byStatus["200"]! - (filledAt.byStatus["200"] ?? 0)).toBeGreaterThan(OUTAGE_MS / 40);
      expect((during.byRelease.v2 ?? 0) - (filledAt.byRelease.v2 ?? 0)).toBeGreaterThan(0);

      // Space is back: the rollout goes on from there and completes; the store is ready again.
      disk.free();
      const done = await w.waitFor(id, ["succeeded", "rolled-back", "failed", "aborted"], 60_000);
      expect(done.status, `${done.reason ?? ""}\n${w.diagnostics()}`).toBe("succeeded");
      const recorded = await w.rolloutEvents(id);
      expect(recorded.filter((e) => e.type === "rollout.held").map((e) => e.payload.cause)).toEqual([
        "SQLITE_FULL",
      ]);
      const events = recorded.map((e) => e.type);
      expect(events).not.toContain("rollout.rolled-back");
      expect(events.filter((t) => t === "rollout.promoted")).toHaveLength(1);
      expect((await call("GET", "/readyz", undefined, false)).status).toBe(200);
      expect((await call("POST", "/api/v1/tokens", { name: "after", role: "viewer" })).status).toBe(201);
      expect((await w.hit()).body).toBe("v2");
      allOk(await load.stop());
      load = undefined;
      // The same control plane process all along.
      expect(w.controlPlane).toBe(controlPlane);
      expect(controlPlane.running, w.diagnostics()).toBe(true);
    }, 180_000);
  },
);
