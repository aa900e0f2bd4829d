#!/usr/bin/env node
/**
 * `node dist/agent/main.js --data-dir DIR`: runs the node agent until a signal, and exits 0.
 *
 * - SIGTERM, SIGINT: a full stop: listeners drained, every instance stopped (SIGTERM, wait, SIGKILL).
 * - SIGUSR2: exit for a restart or an upgrade: instances (and the edge) are left running, their pid
 *   files and FIFOs in place, for the next agent to adopt (docs/agent.md, "Snapshot and restart").
 *
 * `slipway agent` calls the same code.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../log/index.js";
import { SlipwayError } from "../util/index.js";
import { createAgent } from "./agent.js";
import { parseEdgeWorkers } from "./edge-workers-setting.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "data-dir": { type: "string", default: ".slipway" },
      "log-level": { type: "string", default: "info" },
      "edge-workers": { type: "string" },
    },
  });
  const workersFlag = values["edge-workers"];
  const workersEnv = process.env.SLIPWAY_EDGE_WORKERS;
  const edgeWorkers =
    workersFlag !== undefined
      ? parseEdgeWorkers(workersFlag, "--edge-workers")
      : workersEnv !== undefined && workersEnv !== ""
        ? parseEdgeWorkers(workersEnv, "SLIPWAY_EDGE_WORKERS")
        : undefined;
  const dataDir = values["data-dir"];
  const logger = createLogger({
    dir: join(dataDir, "agent", "logs"),
    level: values["log-level"],
    pretty: false,
  });
  const agent = createAgent({ dataDir, logger, ...(edgeWorkers === undefined ? {} : { edgeWorkers }) });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const stopInstances = signal !== "SIGUSR2";
    logger.info({ signal, stopInstances }, "signal received");
    agent.stop({ stopInstances }).then(
      () => {
        logger.flush(() => process.exit(0));
      },
      (err: unknown) => {
        logger.error({ err }, "agent did not stop cleanly");
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("SIGUSR2", onSignal);
  await agent.start();
  process.stdout.write(`slipway agent listening on ${agent.socketPath}\n`);
}

main().catch((err: unknown) => {
  const message = err instanceof SlipwayError ? `${err.code}: ${err.message}` : String(err);
  process.stderr.write(`slipway agent: ${message}\n`);
  process.exit(1);
});
