import { describe, expect, it } from "vitest";
import { createLifecycle, startOrUnwind } from "./lifecycle.js";

/** Starts parts a, b, c, … in order; the one named `failing` throws on start. Records starts and stops. */
async function run(parts: string[], failing?: string, failingStop?: string) {
  const calls: string[] = [];
  const lifecycle = createLifecycle();
  const steps = async () => {
    for (const name of parts) {
      await lifecycle.start(
        name,
        () => {
          if (name === failing) throw new Error(`${name} failed to start`);
          calls.push(`start ${name}`);
        },
        async () => {
          calls.push(`stop ${name}`);
          await Promise.resolve();
          if (name === failingStop) throw new Error(`${name} failed to stop`);
        },
      );
    }
  };
  const started = await startOrUnwind(
    steps,
    () => lifecycle.stop(),
    () => undefined,
  ).then(
    () => "started",
    (err: unknown) => (err as Error).message,
  );
  return { calls, started, lifecycle };
}

describe("the start and stop order of the control plane's parts", () => {
  it("stops in the exact reverse of the start", async () => {
    const { calls, started, lifecycle } = await run(["store", "api", "controller", "triggers"]);
    expect(started).toBe("started");
    expect(lifecycle.started()).toEqual(["store", "api", "controller", "triggers"]);
    await lifecycle.stop();
    expect(calls).toEqual([
      "start store",
      "start api",
      "start controller",
      "start triggers",
      "stop triggers",
      "stop controller",
      "stop api",
      "stop store",
    ]);
    expect(lifecycle.started()).toEqual([]);
  });

  it.each([
    { failing: "store", stops: [] },
    { failing: "api", stops: ["stop store"] },
    { failing: "controller", stops: ["stop api", "stop store"] },
    { failing: "triggers", stops: ["stop controller", "stop api", "stop store"] },
  ])("when $failing fails to start, stops what started before it, in reverse", async ({ failing, stops }) => {
    const { calls, started } = await run(["store", "api", "controller", "triggers"], failing);
    expect(started).toBe(`${failing} failed to start`);
    expect(calls.filter((c) => c.startsWith("stop"))).toEqual(stops);
  });

  it("stops every part when one fails to stop, and throws the first failure", async () => {
    const { calls, lifecycle } = await run(["store", "api", "controller"], undefined, "api");
    await expect(lifecycle.stop()).rejects.toThrow("api failed to stop");
    expect(calls.filter((c) => c.startsWith("stop"))).toEqual(["stop controller", "stop api", "stop store"]);
  });

  it("keeps the start's error when unwinding after it fails too", async () => {
    const { calls, started } = await run(["store", "api", "controller"], "controller", "store");
    expect(started).toBe("controller failed to start");
    expect(calls.filter((c) => c.startsWith("stop"))).toEqual(["stop api", "stop store"]);
  });

  it("stops once however often stop is called, and starts nothing once stopping", async () => {
    const { calls, lifecycle } = await run(["store"]);
    await Promise.all([lifecycle.stop(), lifecycle.stop()]);
    expect(calls).toEqual(["start store", "stop store"]);
    await expect(
      lifecycle.start(
        "late",
        () => undefined,
        () => undefined,
      ),
    ).rejects.toThrow("stopping");
  });
});
