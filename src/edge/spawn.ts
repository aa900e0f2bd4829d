/**
 * Spawn or adopt the edge (runs in the agent). An edge is adopted when its pid record names a live
 * process that is the one that wrote it (same start time: a reused pid is never trusted, nor signalled),
 * its socket answers with our token, and it reports that same pid. Otherwise a new edge is spawned
 * detached (its own session: it survives the agent, `kill -9` included), logging to
 * `<dataDir>/agent/logs/edge.log`.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { SlipwayError } from "../util/index.js";
import { createEdgeClient, type EdgeClient } from "./client.js";
import { edgePaths, isSameProcess, loadOrCreateEdgeToken, readPidRecord, type EdgePaths } from "./files.js";
import type { EdgeLogger } from "./log.js";
import type { EdgePidRecord, EdgeState } from "./types.js";
import { edgeVersion } from "./version.js";

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export interface EdgeLaunchOptions {
  dataDir: string;
  logger: EdgeLogger;
  /** The edge's entry. Default: this package's `dist/edge/main.js`. */
  main?: string;
  logLevel?: string;
  /** Drain for SSE and WebSockets when a listener stops. */
  drainMs?: number;
  /**
   * Router processes sharing the listeners (`--workers`): a whole number ≥ 1 or `auto` (one per CPU).
   * Default 1 (each Node process costs ~40–60 MB). Applies to an edge spawned now; an adopted edge
   * keeps the count it was started with (until it is upgraded or respawned).
   */
  workers?: number | "auto";
}

export interface EdgeConnection {
  client: EdgeClient;
  state: EdgeState;
  /** The edge's identity, for the agent's liveness watch. */
  record: EdgePidRecord;
  adopted: boolean;
}

/**
 * The built edge next to this file; from the sources (tests run TypeScript), the built one in dist/.
 * Trap: tests that reach this need `npm run build` first.
 */
export function defaultEdgeMain(): string {
  const beside = fileURLToPath(new URL("./main.js", import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL("../../dist/edge/main.js", import.meta.url));
}

/** Adopts the running edge (upgrading it when it runs another version), or spawns one. */
export async function connectEdge(options: EdgeLaunchOptions): Promise<EdgeConnection> {
  const paths = edgePaths(options.dataDir);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const token = await loadOrCreateEdgeToken(paths.token);
  const client = createEdgeClient({ socketPath: paths.socket, token });
  const main = options.main ?? defaultEdgeMain();
  const adopted = await adopt(paths, client, options.logger);
  if (adopted !== undefined) {
    if (adopted.state.version === edgeVersion()) return { client, ...adopted, adopted: true };
    options.logger.info({ from: adopted.state.version, to: edgeVersion() }, "upgrading the edge");
    await client.upgrade(main);
    const upgraded = await waitForEdge(paths, client, undefined);
    return { client, ...upgraded, adopted: true };
  }
  const child = await spawnDetached(paths, main, options);
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code, signal) => {
      const how = signal ?? `code ${code ?? "?"}`;
      reject(
        new SlipwayError("not_running", `the edge exited (${how}) before it answered; see ${paths.log}`),
      );
    });
  });
  try {
    const spawned = await Promise.race([waitForEdge(paths, client, child.pid), exited]);
    return { client, ...spawned, adopted: false };
  } finally {
    child.removeAllListeners("exit");
    child.unref();
  }
}

async function adopt(
  paths: EdgePaths,
  client: EdgeClient,
  logger: EdgeLogger,
): Promise<{ state: EdgeState; record: EdgePidRecord } | undefined> {
  const record = await readPidRecord(paths.pid);
  if (record === undefined || !(await isSameProcess(record))) return undefined;
  try {
    const state = await client.state();
    if (state.pid === record.pid) return { state, record };
  } catch (err) {
    logger.warn({ pid: record.pid, err }, "the edge's process is alive but does not answer; replacing it");
  }
  await stopEdgeProcess(record, STOP_TIMEOUT_MS);
  return undefined;
}

async function spawnDetached(paths: EdgePaths, main: string, options: EdgeLaunchOptions) {
  await mkdir(dirname(paths.log), { recursive: true, mode: 0o700 });
  const log = await open(paths.log, "a", 0o600);
  try {
    const args = [main, "--data-dir", options.dataDir, "--log-level", options.logLevel ?? "info"];
    if (options.drainMs !== undefined) args.push("--drain-ms", String(options.drainMs));
    if (options.workers !== undefined) args.push("--workers", String(options.workers));
    return spawn(process.execPath, args, { detached: true, stdio: ["ignore", log.fd, log.fd] });
  } finally {
    await log.close();
  }
}

/** Until the edge answers with a pid record that names it (and, when given, is `pid`). */
async function waitForEdge(
  paths: EdgePaths,
  client: EdgeClient,
  pid: number | undefined,
): Promise<{ state: EdgeState; record: EdgePidRecord }> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const record = await readPidRecord(paths.pid);
    if (record !== undefined && (pid === undefined || record.pid === pid)) {
      const state = await client.state().catch(() => undefined);
      if (state?.pid === record.pid) return { state, record };
    }
    if (Date.now() > deadline) {
      throw new SlipwayError(
        "not_running",
        `the edge did not answer within ${READY_TIMEOUT_MS} ms; see ${paths.log}`,
      );
    }
    await sleep(25);
  }
}

/**
 * SIGTERM (the edge drains and exits), then SIGKILL after `timeoutMs`. Only ever the process the record
 * names: checked before each signal.
 */
export async function stopEdgeProcess(record: EdgePidRecord, timeoutMs: number): Promise<void> {
  if (!(await isSameProcess(record))) return;
  process.kill(record.pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isSameProcess(record))) return;
    await sleep(25);
  }
  if (await isSameProcess(record)) process.kill(record.pid, "SIGKILL");
  while (await isSameProcess(record)) await sleep(10);
}
