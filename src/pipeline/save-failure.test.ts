/**
 * A save that fails mid-run stops the run (engine.ts, active-run.ts): nothing further starts, and once
 * the store answers again the run is recorded `interrupted` with the reason, and can be resumed.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { PipelineRunUpdate } from "../store/index.js";
import { waitFor } from "../test-support/wait-for.js";
import { RunStateCodec } from "./codecs.js";
import { PipelineWorld } from "./test-fixtures.js";

describe("a run whose state cannot be saved (real store, checkout and processes)", () => {
  let world: PipelineWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it("stops, starts nothing further, is recorded interrupted when the store is back, and resumes", async () => {
    world = await new PipelineWorld().start(`ci:
  on: { manual: {} }
  jobs:
    build:
      steps: [ { run: echo building } ]
    test:
      needs: [build]
      steps: [ { run: echo testing } ]
`);
    const pipelines = world.store.pipelines;
    const updateRun = pipelines.updateRun.bind(pipelines);
    let down = false;
    let refused = 0;
    // The store goes away at the save that records `build` finished, and stays away until told.
    pipelines.updateRun = (update: PipelineRunUpdate) => {
      const buildDone = (update.events ?? []).some(
        (e) => e.type === "pipeline.job.succeeded" && JSON.stringify(e.payload).includes('"job":"build"'),
      );
      if (buildDone) down = true;
      if (down) {
        refused += 1;
        return Promise.reject(new Error("connection terminated"));
      }
      return updateRun(update);
    };

    const run = await world.run("ci");
    // The failed save, then at least one attempt to record the stopped run.
    await waitFor(() => refused >= 2, { what: "the engine to try recording the stopped run" });
    expect((await pipelines.getRun(run.id)).status).toBe("running");
    down = false;

    const stopped = await world.finish(run);
    expect(stopped.status).toBe("interrupted");
    const state = RunStateCodec.decode(stopped.state, "test");
    expect(state.error).toMatch(/could not be saved/);
    expect(stopped.jobs.map((j) => [j.name, j.status])).toEqual([
      ["build", "succeeded"],
      ["test", "pending"],
    ]);
    expect(stopped.jobs[1]?.steps[0]?.attempt).toBe(0);

    await world.engine.resume(run.id, "local:alice");
    const resumed = await world.finish(run);
    expect(resumed.status).toBe("succeeded");
    expect(resumed.jobs.map((j) => [j.name, j.status])).toEqual([
      ["build", "succeeded"],
      ["test", "succeeded"],
    ]);
  }, 60_000);
});
