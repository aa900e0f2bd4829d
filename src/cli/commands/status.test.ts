import { describe, expect, it } from "vitest";
import type { CliContext } from "../context.js";
import { createOutput } from "../output.js";
import { renderDeployments, type DeploymentsView } from "./status.js";

/** A context whose output is plain text (not a terminal, so no colour). */
function context(): CliContext {
  const stream = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
  return { output: createOutput(stream, stream, {}), env: {}, cwd: "/" };
}

function view(reachable: boolean): DeploymentsView {
  return {
    agent: reachable
      ? { reachable, lastSeenAt: "2026-12-08T10:00:00.000Z" }
      : {
          reachable,
          error: "agent unreachable at /x/agent.sock (ECONNREFUSED)",
          lastSeenAt: "2026-12-08T10:00:00.000Z",
        },
    environmentErrors: {},
    slots: [
      {
        service: "web",
        env: "production",
        stable: "v1",
        releases: [{ version: "v1", role: "stable", instances: 2, weight: 100, ready: 2, running: [] }],
      },
    ],
  };
}

describe("status: what runs", () => {
  it("shows ready/desired instances while the agent answers", () => {
    const text = renderDeployments(context(), view(true));
    expect(text).toMatch(/Agent\s+reachable/);
    expect(text).toMatch(/production\s+web\s+v1\s+stable\s+100%\s+2\/2/);
  });

  it("shows the instances as unknown, not ready, while the agent does not answer", () => {
    const text = renderDeployments(context(), view(false));
    expect(text).toMatch(/Agent\s+unreachable: agent unreachable at \/x\/agent.sock \(ECONNREFUSED\)/);
    expect(text).toMatch(/production\s+web\s+v1\s+stable\s+100%\s+\?\/2/);
    expect(text).not.toContain("2/2");
  });
});
