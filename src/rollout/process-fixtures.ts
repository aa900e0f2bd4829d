/**
 * Test support for rollouts across real processes: the node agent and the control plane as child
 * processes of the built code (dist/), through ProcessWorld (process-world-fixtures.ts, shared with the
 * rollout benchmarks), and `ensureBuilt()` so dist/ matches src/ before a test spawns it.
 * (Excluded from the build like the other fixtures.)
 */
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { AGENT_MAIN, CLI_MAIN } from "./process-world-fixtures.js";

export {
  AGENT_MAIN,
  CLI_MAIN,
  ProcessWorld,
  instanceGroups,
  liveEdgePid,
  liveInstances,
  type Behaviour,
  type LiveInstance,
  type DeploymentsView,
  type ProcessWorldConfig,
  type RolloutEvent,
} from "./process-world-fixtures.js";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Newest mtime of the sources that end up in dist/ (tests, fixtures and test support are not built). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "test-support") newest = Math.max(newest, newestSource(path));
    } else if (
      entry.name.endsWith(".ts") &&
      !entry.name.endsWith(".test.ts") &&
      !entry.name.endsWith("fixtures.ts")
    ) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/**
 * Builds when dist/ is missing or older than src/ (as src/agent/test-fixtures.ts does, but over all of
 * src/: the control plane's entry point reaches nearly every module). Not unconditionally: other test
 * files spawn dist/ concurrently, and tsc rewriting a file under them would make them flaky.
 */
export function ensureBuilt(): void {
  const built = Math.min(
    ...[AGENT_MAIN, CLI_MAIN].map((f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0),
  );
  if (built >= newestSource(join(ROOT, "src"))) return;
  const started = Date.now();
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      { cwd: ROOT, stdio: "inherit" },
    );
  } catch (err) {
    // tsc emits despite type errors; a type error elsewhere in a tree being edited is not this test's
    // subject, so it runs on what was emitted. Without output there is nothing to run.
    const emitted = statSync(CLI_MAIN, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (emitted < started - 1_000) throw err;
    console.warn("tsc reported errors (see above); dist/ was emitted anyway, testing it");
  }
}
