import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../test-support/wait-for.js";
import { createLoop, nextDelay, type Loop } from "./index.js";

describe("nextDelay", () => {
  const backoff = { initialMs: 100, maxMs: 1000 };
  it.each([
    [0, 5000],
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1000],
    [60, 1000],
  ])("after %i failed ticks in a row waits %i ms", (errors, delay) => {
    expect(nextDelay(5000, errors, backoff)).toBe(delay);
  });
});

describe("createLoop", () => {
  let loop: Loop | undefined;
  afterEach(async () => {
    await loop?.stop();
    loop = undefined;
  });

  /** A tick that waits until released, to hold the loop inside a tick. */
  function gate(): { wait: Promise<void>; open: () => void } {
    let open!: () => void;
    const wait = new Promise<void>((resolve) => (open = resolve));
    return { wait, open };
  }

  it("ticks at start, then on pokes; settle waits for a tick that started after it", async () => {
    let ticks = 0;
    loop = createLoop({
      name: "t",
      intervalMs: 60_000,
      tick: () => {
        ticks++;
        return Promise.resolve();
      },
    });
    loop.start();
    await loop.settle();
    const before = ticks;
    expect(before).toBeGreaterThanOrEqual(1);
    await loop.settle();
    expect(ticks).toBe(before + 1);
    expect(loop.stats()).toMatchObject({ name: "t", ticks, errors: 0, running: false });
  });

  it("never runs two ticks at once; pokes during a tick coalesce into one more", async () => {
    let inside = 0;
    let most = 0;
    let ticks = 0;
    let held = gate();
    loop = createLoop({
      name: "t",
      intervalMs: 60_000,
      tick: async () => {
        inside++;
        most = Math.max(most, inside);
        ticks++;
        await held.wait;
        inside--;
      },
    });
    loop.start();
    await waitFor(() => ticks > 0, { what: "the first tick", intervalMs: 1 });
    for (let i = 0; i < 5; i++) loop.poke();
    const first = held;
    held = gate();
    held.open();
    first.open();
    await loop.settle();
    expect(most).toBe(1);
    // The first tick, one for the five pokes, and the one settle asked for (after the pokes' tick began).
    expect(ticks).toBeLessThanOrEqual(3);
    expect(ticks).toBeGreaterThanOrEqual(2);
  });

  it("counts a failing tick, reports it with the failures in a row, and backs off", async () => {
    const reported: number[] = [];
    let ticks = 0;
    loop = createLoop({
      name: "t",
      intervalMs: 0,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      tick: () => {
        ticks++;
        return Promise.reject(new Error("store down"));
      },
      onError: (_error, consecutive) => reported.push(consecutive),
    });
    loop.start();
    await loop.settle();
    // The point of the test: nothing more happens in the next 50 ms.
    await sleep(50);
    // With an interval of 0 it would have ticked again and again; the backoff holds it at one per poke.
    const settled = ticks;
    expect(loop.stats()).toMatchObject({ errors: settled, consecutiveErrors: settled });
    await loop.settle();
    expect(ticks).toBe(settled + 1);
    expect(reported).toEqual(Array.from({ length: settled + 1 }, (_, i) => i + 1));
  });

  it("a success after failures resets the backoff", async () => {
    let fail = true;
    loop = createLoop({
      name: "t",
      intervalMs: 60_000,
      tick: () => (fail ? Promise.reject(new Error("x")) : Promise.resolve()),
    });
    loop.start();
    await loop.settle();
    expect(loop.stats().consecutiveErrors).toBeGreaterThan(0);
    fail = false;
    await loop.settle();
    expect(loop.stats().consecutiveErrors).toBe(0);
  });

  it("stop aborts the running tick's signal, waits for it to end, and ticks no more", async () => {
    let ticks = 0;
    let sawAbort = false;
    let ended = false;
    loop = createLoop({
      name: "t",
      intervalMs: 0,
      tick: async (signal) => {
        ticks++;
        await new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => {
            resolve();
          });
        });
        sawAbort = signal.aborted;
        await sleep(10);
        ended = true;
      },
      onError: () => {
        expect.unreachable("a stopped tick is not an error");
      },
    });
    loop.start();
    await waitFor(() => ticks > 0, { what: "the first tick", intervalMs: 1 });
    const waiting = loop.settle();
    await loop.stop();
    expect(sawAbort).toBe(true);
    expect(ended).toBe(true);
    await waiting; // released by stop, not left hanging
    loop.poke();
    // The point of the test: a poke after stop starts nothing, in the next 20 ms or ever.
    await sleep(20);
    expect(ticks).toBe(1);
    await expect(loop.settle()).resolves.toBeUndefined();
  });

  it("reads the interval after every tick", async () => {
    let ticks = 0;
    const intervals: number[] = [];
    loop = createLoop({
      name: "t",
      intervalMs: () => {
        intervals.push(ticks);
        return ticks < 3 ? 0 : 60_000;
      },
      tick: () => {
        ticks++;
        return Promise.resolve();
      },
    });
    loop.start();
    await waitFor(() => ticks >= 3, { what: "three ticks", intervalMs: 1 });
    // The point of the test: no fourth tick comes in the next 20 ms (the interval is now a minute).
    await sleep(20);
    expect(ticks).toBe(3);
    expect(intervals).toEqual([1, 2, 3]);
  });
});
