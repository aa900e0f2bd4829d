import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";

import { type AnalysisConfig, type SampleWindow, judge } from "../judge/index.js";
import { type Backend, send, settled, startBackend, startRouter, target } from "./test-fixtures.js";
import type { RouteTable, StatsWindow } from "./types.js";
import { waitFor } from "../test-support/wait-for.js";

/**
 * The rule of docs/router.md, "Clients that leave", from both sides: a client that walks away makes
 * no error (and dilutes nothing) unless the release had kept it waiting past `abandonedAfterMs`; a
 * release that holds requests until clients give up fails an error-rate check.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

/** What src/rollout/controller.ts feeds the judge from a release's window. */
function judgeInput(w: StatsWindow): SampleWindow {
  return { requests: w.requests, errors: w.errors, latenciesMs: w.latenciesMs };
}

const ERROR_RATE: AnalysisConfig = {
  minSamples: 10,
  confidence: 0.95,
  onInconclusive: "extend",
  checks: [{ metric: "error-rate", max: 0.05 /* 5% */ }],
};

/**
 * `count` requests at once, each abandoned by its client `afterMs` after the target has received them
 * all (so that every one has reached the release, however loaded the machine).
 */
async function abandon(url: string, target: Backend, count: number, afterMs: number): Promise<void> {
  const controllers = Array.from({ length: count }, () => new AbortController());
  const reached = target.seen.length + count;
  const pending = controllers.map((c) =>
    request(url, { signal: c.signal }).then(
      (res) => res.body.dump(),
      () => undefined,
    ),
  );
  await waitFor(() => target.seen.length >= reached, {
    what: `${count} requests to reach the target`,
    intervalMs: 2,
  });
  // Not a wait for a condition: how long the clients stay before leaving is the scenario under test.
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  for (const c of controllers) c.abort();
  await Promise.all(pending);
}

describe("clients that walk away", () => {
  function oneRelease(port: number): RouteTable {
    return {
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [{ name: "v1", weight: 100, targets: [target("t", port)] }],
        },
      ],
    };
  }

  it("a client aborting quickly, again and again, does not fail an error-rate check", async () => {
    const slow = await backend("slow", (req, res) => {
      const timer = setTimeout(() => res.end("ok"), req.url === "/quick" ? 0 : 1_000);
      res.on("close", () => {
        clearTimeout(timer);
      });
    });
    const r = await startRouter(oneRelease(slow.port), { abandonedAfterMs: 500 });
    cleanups.push(() => r.close());
    for (let i = 0; i < 20; i++) expect((await send(`${r.url}/quick`)).status).toBe(200);
    for (let i = 0; i < 20; i++) await abandon(r.url, slow, 1, 0);
    await settled(r, "v1");
    const w = r.router.stats("web", "v1").window(0);
    // Aborts are counted apart: neither errors nor judged requests nor latencies.
    expect(w).toMatchObject({ requests: 20, aborted: 20, abandoned: 0, errors: 0 });
    expect(w.latenciesMs.length).toBe(20);
    const healthy = { requests: 20, errors: 0, latenciesMs: [5, 6, 7] };
    expect(judge(ERROR_RATE, judgeInput(w), healthy).result).toBe("pass");
  });

  it("a client aborting quickly, again and again, does not dilute a failing release's error rate", async () => {
    const failing = await backend("failing", (req, res) => {
      const timer = setTimeout(() => res.writeHead(500).end(), 200);
      res.on("close", () => {
        clearTimeout(timer);
      });
    });
    const r = await startRouter(oneRelease(failing.port), { abandonedAfterMs: 1_000 });
    cleanups.push(() => r.close());
    for (let i = 0; i < 10; i++) expect((await send(r.url)).status).toBe(500);
    for (let batch = 0; batch < 20; batch++) {
      await abandon(r.url, failing, 20, 0);
    }
    await settled(r, "v1");
    const w = r.router.stats("web", "v1").window(0);
    expect(w).toMatchObject({ requests: 10, errors: 10, aborted: 400 });
    const healthy = { requests: 400, errors: 0, latenciesMs: [5, 6, 7] };
    expect(judge(ERROR_RATE, judgeInput(w), healthy).result).toBe("fail");
  });

  it("a release that holds requests past the threshold until clients give up fails the check", async () => {
    const hanging = await backend("hanging", () => undefined);
    const r = await startRouter(oneRelease(hanging.port), { abandonedAfterMs: 100 });
    cleanups.push(() => r.close());
    await abandon(r.url, hanging, 20, 250);
    await settled(r, "v1");
    const w = r.router.stats("web", "v1").window(0);
    expect(w).toMatchObject({ requests: 20, aborted: 0, abandoned: 20, errors: 20 });
    const healthy = { requests: 20, errors: 0, latenciesMs: [5, 6, 7] };
    expect(judge(ERROR_RATE, judgeInput(w), healthy).result).toBe("fail");
  });
});
