import { describe, expect, test } from "vitest";

import { waitFor } from "./wait-for.js";

describe("waitFor", () => {
  test("returns the first truthy value of a sync condition", async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), {
      what: "three calls",
      intervalMs: 1,
    });
    expect(value).toEqual({ calls: 3 });
  });

  test("awaits an async condition", async () => {
    let calls = 0;
    const value = await waitFor(
      async () => {
        await Promise.resolve();
        return ++calls === 2 && "ready";
      },
      { what: "ready", intervalMs: 1 },
    );
    expect(value).toBe("ready");
  });

  test("treats an exception as not yet", async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        if (++calls < 3) throw new Error("not there yet");
        return calls;
      },
      { what: "no exception", intervalMs: 1 },
    );
    expect(value).toBe(3);
  });

  test("after the deadline, names what it waited for and the last value", async () => {
    let calls = 0;
    await expect(
      waitFor(() => ({ ok: false, calls: ++calls }).ok, {
        what: "the canary to be ready",
        timeoutMs: 30,
        intervalMs: 5,
      }),
    ).rejects.toThrow(/waiting for the canary to be ready; last value: false/);
    expect(calls).toBeGreaterThan(1);
  });

  test("after the deadline, names the last exception and keeps it as the cause", async () => {
    const boom = new Error("connection refused");
    const error: unknown = await waitFor(
      () => {
        throw boom;
      },
      { what: "the server", timeoutMs: 20, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/waiting for the server; last exception: connection refused/);
    expect((error as Error).cause).toBe(boom);
  });

  test("tries at least once even with a deadline already passed", async () => {
    expect(await waitFor(() => 7, { what: "seven", timeoutMs: 0 })).toBe(7);
  });
});
