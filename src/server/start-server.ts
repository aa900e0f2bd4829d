/**
 * The control plane's composition root, loaded by index.ts only when a server starts (it pulls in the
 * API server, the store drivers, the rollout controller and the pipeline engine).
 */
import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApi } from "../api/index.js";
import { createLogger } from "../log/index.js";
import { openStore, type Store } from "../store/index.js";
import {
  agentLinkFor,
  createDeployer,
  DeliveryService,
  RolloutController,
  type AgentLink,
} from "../rollout/index.js";
import { createPipelineEngine } from "../pipeline/index.js";
import type { PipelineEngine } from "../pipeline/index.js";
import { createTriggers, type Triggers } from "../pipeline/index.js";
import { SlipwayError } from "../util/index.js";
import { openServerDataKey } from "./data-key.js";
import { createLifecycle, startOrUnwind } from "./lifecycle.js";
import { reportTightened, secureDataDir } from "./data-dir.js";
import { dataKeyPath, formatUrl, type ServerSettings } from "./settings.js";
import { slipwayVersion } from "./version.js";

export interface RunningServer {
  /** Base URL with the port actually bound (port 0 resolves here). */
  url: string;
  /** Set only on the very first start: the admin token, to be shown once. */
  adminToken: string | undefined;
  /** A per-process admin secret for in-process callers (`up`); never stored, never printed. */
  localToken: string;
  store: Store;
  logger: Logger;
  app: FastifyInstance;
  controller: RolloutController;
  pipelines: PipelineEngine;
  /** Push hooks, schedules and polling that start pipeline runs. */
  triggers: Triggers;
  /** Stop accepting, finish requests in flight, end event streams, close the store. Idempotent. */
  stop(): Promise<void>;
}

export interface StartServerOptions {
  settings: Readonly<ServerSettings>;
  /** Readable log lines on stdout too (the CLI sets this on a TTY). */
  prettyLogs?: boolean;
  /** Replace the file logger (tests). */
  logger?: Logger;
  /** The node agent to drive; default the one of the data directory (`<dataDir>/agent/`). */
  agent?: AgentLink;
  /** Controller tick (tests). */
  tickMs?: number;
}

/**
 * The control plane's composition root: store, first admin token, API, listener. Nothing here is global;
 * two servers can run in one process (tests do).
 *
 * The parts start in this order and stop in the exact reverse (lifecycle.ts): store, API, rollout
 * controller, listener, pipeline engine, triggers. If one fails to start, what started before it is
 * stopped, so nothing keeps running against a closed store. The controller needs nothing from the
 * listener, so it starts before it (a taken port then stops it like any later failure); the triggers need
 * the bound URL, and the pipeline engine starts after the listener as it always did.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { settings } = options;
  // Owner-only before anything is opened in it; what was looser is reported once the log is open.
  const tightened = await secureDataDir(settings.dataDir);
  let logger: Logger | undefined;
  const lifecycle = createLifecycle({ logger: () => logger });
  // Aborted before the parts stop, on a stop as on a failed start: a deploy (or a pipeline's deploy
  // step) copying a large tree must not hold the stop for the rest of its copy.
  let service: DeliveryService | undefined;
  const unwind = async (): Promise<void> => {
    service?.stop();
    await lifecycle.stop();
  };
  return startOrUnwind(
    async () => {
      // The store first: it explains an unwritable data dir better than the log file would.
      const store = await lifecycle.start(
        "store",
        () => openStore({ dataDir: settings.dataDir, databaseUrl: settings.databaseUrl }),
        (s) => s.close(),
      );
      const log = (logger = options.logger ?? openLogger(settings, options.prettyLogs ?? false));
      reportTightened(log, tightened);
      const dataKey = await openServerDataKey(store, dataKeyPath(settings), log);
      const adminToken = await bootstrapAdminToken(store);
      const localToken = `slw_local_${randomBytes(24).toString("base64url")}`;
      const controller = new RolloutController({
        store,
        agent: options.agent ?? agentLinkFor(settings.dataDir),
        logger: log,
        ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
      });
      const delivery = (service = new DeliveryService(store, controller, settings.dataDir, {
        artifactLimits: settings.artifactLimits,
      }));
      const pipelines = createPipelineEngine({
        store,
        logger: log,
        dataDir: settings.dataDir,
        deployer: createDeployer(store, delivery),
        ...(settings.pipelineParallelism === undefined ? {} : { parallelism: settings.pipelineParallelism }),
      });
      const triggers = createTriggers({ store, engine: pipelines, logger: log, dataKey });
      const app = await lifecycle.start(
        "api",
        () =>
          buildApi({
            delivery: { service: delivery, controller },
            pipelines: { engine: pipelines, triggers },
            store,
            logger: log,
            local: { secret: localToken, actor: `local:${localUser()}` },
            info: { version: slipwayVersion(), startedAt: new Date().toISOString() },
            loops: [controller, ...pipelines.loops(), ...triggers.loops()],
          }),
        (a) => a.close(),
      );
      await lifecycle.start(
        "rollout controller",
        () => {
          controller.start();
        },
        () => controller.stop(),
      );
      // Closing the API (above, stopped after the controller) closes the listener too.
      await listen(app, settings);
      const address = app.server.address();
      const port = typeof address === "object" && address ? address.port : settings.listen.port;
      const url = formatUrl({ host: settings.listen.host, port });
      log.info({ url, store: store.location }, "slipway control plane listening");
      await lifecycle.start(
        "pipeline engine",
        () => pipelines.start(),
        () => pipelines.stop(),
      );
      // Local git hooks call back on this URL: a wildcard listen address is reached on loopback.
      await lifecycle.start(
        "triggers",
        () => triggers.start({ serverUrl: hookBaseUrl(settings.listen.host, port) }),
        () => triggers.stop(),
      );
      let stopping: Promise<void> | undefined;
      return {
        url,
        adminToken,
        localToken,
        store,
        logger: log,
        app,
        controller,
        pipelines,
        triggers,
        stop: () =>
          (stopping ??= (async () => {
            log.info("slipway control plane stopping");
            await unwind();
            log.info("slipway control plane stopped");
            await flush(log);
          })()),
      };
    },
    unwind,
    () => logger,
  );
}

function openLogger(settings: Readonly<ServerSettings>, pretty: boolean): Logger {
  const dir = join(settings.dataDir, "logs");
  try {
    return createLogger({ dir, level: settings.logLevel, pretty });
  } catch (err) {
    throw new SlipwayError("store_unwritable", `cannot write logs to ${dir}: ${(err as Error).message}`, {
      hint: "choose a writable directory with --data-dir or SLIPWAY_DATA_DIR",
      cause: err,
    });
  }
}

function hookBaseUrl(host: string, port: number): string {
  const loopback = host === "0.0.0.0" ? "127.0.0.1" : host === "::" || host === "[::]" ? "::1" : host;
  return formatUrl({ host: loopback, port });
}

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

async function bootstrapAdminToken(store: Store): Promise<string | undefined> {
  if ((await store.tokens.count()) > 0) return undefined;
  const { token } = await store.tokens.create({
    name: "admin",
    role: "admin",
    createdBy: "system:bootstrap",
  });
  return token;
}

async function listen(app: FastifyInstance, settings: Readonly<ServerSettings>): Promise<void> {
  try {
    await app.listen({ host: settings.listen.host, port: settings.listen.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${settings.listen.host}:${settings.listen.port}`;
    if (code === "EADDRINUSE") {
      throw new SlipwayError("address_in_use", `cannot listen on ${where}: the port is already in use`, {
        hint: "is another slipway running? stop it, or pick another address with --listen",
        cause: err,
      });
    }
    if (code === "EADDRNOTAVAIL" || code === "EACCES" || code === "ENOTFOUND") {
      throw new SlipwayError("address_in_use", `cannot listen on ${where}: ${code}`, {
        hint: "pick another address with --listen",
        cause: err,
      });
    }
    throw err;
  }
}

function flush(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    logger.flush(() => {
      resolve();
    });
  });
}
