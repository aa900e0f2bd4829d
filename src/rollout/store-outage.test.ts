import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

import pg from "pg";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";

import { startServer } from "../server/index.js";
import type { Rollout, StoreOptions } from "../store/index.js";
import { postgresBaseUrl, storeBackends } from "../test-support/stores.js";
import { deployments, DeliveryWorld, eventsOf, startLoad, waitUntil } from "./test-fixtures.js";
import type { RolloutState } from "./types.js";

/** A world whose control plane logs into memory, to count what it said. */
class LoggedWorld extends DeliveryWorld {
  readonly lines: { level: number; msg: string; [key: string]: unknown }[] = [];

  override async startControlPlane(store?: StoreOptions): Promise<void> {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split("\n")) {
          if (line.trim() !== "") this.lines.push(JSON.parse(line) as (typeof this.lines)[number]);
        }
        done();
      },
    });
    this.server = await startServer({
      settings: {
        listen: { host: "127.0.0.1", port: 0 },
        dataDir: this.dataDir,
        databaseUrl: store?.databaseUrl,
        logLevel: "info",
      },
      logger: pino({ level: "info" }, sink),
      tickMs: 100,
    });
  }

  said(pattern: RegExp): number {
    return this.lines.filter((l) => pattern.test(l.msg)).length;
  }
}

/** Sets or resets `default_transaction_read_only` on a database and drops its sessions so it takes hold. */
async function setReadOnly(databaseUrl: string, readOnly: boolean): Promise<void> {
  const database = new URL(databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: postgresBaseUrl()! });
  await client.connect();
  try {
    await client.query(
      readOnly
        ? `alter database ${database} set default_transaction_read_only = on`
        : `alter database ${database} reset default_transaction_read_only`,
    );
    await client.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database}'`,
    );
  } finally {
    await client.end();
  }
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

const OUTAGE_MS = 8_000;
/** A 3 s step and a 5 s progress deadline: an 8 s outage outlasts both. */
const ROLLOUT = "{ strategy: canary, steps: [{ weight: 50, pause: 3s }], progressDeadline: 5s }";

describe.skipIf(postgresBaseUrl() === null)(
  "rollouts while the store cannot be written (PostgreSQL read-only)",
  () => {
    const [, postgres] = storeBackends();
    let world: LoggedWorld | undefined;
    let load: ReturnType<typeof startLoad> | undefined;
    afterEach(async () => {
      await load?.stop();
      load = undefined;
      await world?.stop();
      world = undefined;
    });

    it("hold where they are (no action, no rollback, one log line, a metric, backoff) and go on when it can", async () => {
      const store = await postgres!.prepare();
      const w = (world = await new LoggedWorld().start({ rollout: ROLLOUT, store }));
      await w.waitFor((await w.deploy("v1")).id, ["succeeded"]);
      load = startLoad(w.routerUrl, 40);
      const { id } = await w.deploy("v2");
      const stepping = await waitUntil("the canary step", async () => {
        const r = await w.rollout(id);
        return r.status === "progressing" && (r.state as unknown as RolloutState).phase === "step"
          ? r
          : undefined;
      });

      await setReadOnly(store.databaseUrl!, true);
      const atOutage = load.snapshot();
      // The scenario itself, not a wait for something: the store stays read-only this long.
      await sleep(OUTAGE_MS);

      // Nothing moved: the stored rollout is the one of the step, and traffic is still split 50/50.
      const during: Rollout = await w.rollout(id);
      expect(during.status).toBe("progressing");
      expect(during.revision).toBe(stepping.revision);
      const slot = (await deployments(w)).slots.find((s) => s.service === "web")!;
      expect(slot.releases.map((r) => [r.version, r.weight]).sort()).toEqual([
        ["v1", 50],
        ["v2", 50],
      ]);
      const seen = load.snapshot();
      expect(seen.socketErrors).toBe(0);
      expect(Object.keys(seen.byStatus)).toEqual(["200"]);
      expect((seen.byRelease.v2 ?? 0) - (atOutage.byRelease.v2 ?? 0)).toBeGreaterThan(20);

      // Said once, counted, and retried with backoff (not every 100 ms tick).
      // Once per cause: dropping the sessions may show as a lost connection before the read-only refusals.
      const said = w.lines.filter((l) => l.msg.includes("cannot record rollout decisions"));
      expect(said.length).toBeGreaterThanOrEqual(1);
      expect(new Set(said.map((l) => l.cause)).size).toBe(said.length);
      expect(said.at(-1)?.cause).toBe("25006");
      expect(w.said(/rollout controller tick failed/)).toBe(0);
      const metrics = await (await fetch(`${w.server.url}/metrics`)).text();
      expect(metric(metrics, "slipway_rollouts_held_by_store")).toBe(1);
      const unrecorded = metric(metrics, "slipway_rollout_decisions_unrecorded_total");
      expect(unrecorded).toBeGreaterThanOrEqual(1);
      expect(unrecorded).toBeLessThanOrEqual(8);
      const ready = await fetch(`${w.server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: "unavailable", store: { writable: false } });

      await setReadOnly(store.databaseUrl!, false);
      const done = await w.waitFor(id, ["succeeded", "rolled-back", "failed"], 30_000);
      expect(done.status, done.reason ?? "").toBe("succeeded");
      expect(w.said(/records rollout decisions again/)).toBe(1);
      const events = (await eventsOf(w, "rollout.")).filter((e) => e.payload.id === id);
      expect(events.map((e) => e.type)).not.toContain("rollout.rolled-back");
      expect(events.filter((e) => e.type === "rollout.promoted")).toHaveLength(1);
      // The first decision recorded after the outage says how long the rollout waited, and why.
      const held = events.filter((e) => e.type === "rollout.held");
      expect(held).toHaveLength(1);
      expect(held[0]!.payload).toMatchObject({ cause: "25006" });
      expect(held[0]!.payload.heldMs).toBeGreaterThan(2_000);
      expect((await fetch(`${w.server.url}/readyz`)).status).toBe(200);
      const after = await load.stop();
      load = undefined;
      expect(after.socketErrors).toBe(0);
      expect(Object.keys(after.byStatus)).toEqual(["200"]);
    }, 90_000);
  },
);
