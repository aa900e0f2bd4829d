#!/usr/bin/env node
/**
 * `node dist/edge/main.js --data-dir DIR`: the edge process, every environment's router listener in one
 * small process that outlives the agent (docs/agent.md, "The edge process"). The agent spawns it
 * detached and drives it over `<dataDir>/agent/edge.sock`. SIGTERM or SIGINT: drain and exit 0.
 * With `--handover` (forked by an older edge at an upgrade) it first takes the old edge's listeners.
 */
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EdgeProcess } from "./edge.js";
import { edgePaths } from "./files.js";
import { receiveHandover, replyHandover } from "./handover.js";
import { createEdgeLogger } from "./log.js";
import { edgeVersion } from "./version.js";
import { parseWorkerCount } from "./workers.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "data-dir": { type: "string", default: ".slipway" },
      "log-level": { type: "string", default: "info" },
      "drain-ms": { type: "string", default: "30000" },
      workers: { type: "string", default: "1" },
      handover: { type: "boolean", default: false },
    },
  });
  const dataDir = values["data-dir"];
  const logger = createEdgeLogger({ level: values["log-level"] });
  const token = (await readFile(edgePaths(dataDir).token, "utf8")).trim();
  const drainMs = Number(values["drain-ms"]);
  const workers = parseWorkerCount(values.workers, availableParallelism());
  if (workers === undefined)
    throw new Error(`--workers: a whole number ≥ 1 or "auto", not ${values.workers}`);
  const workerArgs = ["--log-level", values["log-level"], "--drain-ms", values["drain-ms"]];
  const edge = new EdgeProcess({
    dataDir,
    token,
    logger,
    version: edgeVersion(),
    drainMs: Number.isFinite(drainMs) && drainMs >= 0 ? drainMs : 30_000,
    workers,
    workerArgs,
    forkArgs: ["--data-dir", dataDir, ...workerArgs, "--workers", values.workers],
    main: fileURLToPath(import.meta.url),
    onStopped: () => process.exit(0),
  });
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, "signal received");
    void edge.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // A detached edge has no terminal; a lost one (log file removed, pipe closed) must not kill it.
  process.on("SIGHUP", () => undefined);
  process.on("SIGPIPE", () => undefined);
  if (!values.handover) {
    await edge.start();
    return;
  }
  try {
    await edge.start(await receiveHandover());
    replyHandover({ kind: "ready", pid: process.pid, generation: edge.state().generation });
  } catch (err) {
    replyHandover({ kind: "failed", message: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`slipway edge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
