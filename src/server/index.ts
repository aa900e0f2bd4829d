import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApi } from "../api/index.js";
import { createLogger } from "../log/index.js";
import { openStore, type Store } from "../store/index.js";
import { agentLinkFor, type AgentLink } from "../rollout/agent-link.js";
import { RolloutController } from "../rollout/controller.js";
import { DeliveryService } from "../rollout/service.js";
import { createDeployer } from "../rollout/deployer.js";
import { createPipelineEngine } from "../pipeline/engine.js";
import type { PipelineEngine } from "../pipeline/engine-types.js";
import { createTriggers, type Triggers } from "../pipeline/triggers.js";
import { SlipwayError } from "../util/errors.js";
import { openServerDataKey } from "./data-key.js";
import { reportTightened, secureDataDir } from "./data-dir.js";
import { dataKeyPath, formatUrl, type ServerSettings } from "./settings.js";

export {
  resolveServerSettings,
  parseListen,
  formatUrl,
  dataKeyPath,
  DEFAULT_LISTEN,
  DEFAULT_DATA_DIR,
  type ServerSettings,
  type ServerFlags,
  type ListenAddress,
} from "./settings.js";

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

export function slipwayVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/**
 * The control plane's composition root: store, first admin token, API, listener. Nothing here is global;
 * two servers can run in one process (tests do).
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { settings } = options;
  // Owner-only before anything is opened in it; what was looser is reported once the log is open.
  const tightened = await secureDataDir(settings.dataDir);
  // The store first: it explains an unwritable data dir better than the log file would.
  const store = await openStore({ dataDir: settings.dataDir, databaseUrl: settings.databaseUrl });
  let app: FastifyInstance | undefined;
  try {
    const logger = options.logger ?? openLogger(settings, options.prettyLogs ?? false);
    reportTightened(logger, tightened);
    const dataKey = await openServerDataKey(store, dataKeyPath(settings), logger);
    const adminToken = await bootstrapAdminToken(store);
    const localToken = `slw_local_${randomBytes(24).toString("base64url")}`;
    const controller = new RolloutController({
      store,
      agent: options.agent ?? agentLinkFor(settings.dataDir),
      logger,
      ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
    });
    const service = new DeliveryService(store, controller, settings.dataDir, {
      artifactLimits: settings.artifactLimits,
    });
    const pipelines = createPipelineEngine({
      store,
      logger,
      dataDir: settings.dataDir,
      deployer: createDeployer(store, service),
      ...(settings.pipelineParallelism === undefined ? {} : { parallelism: settings.pipelineParallelism }),
    });
    const triggers = createTriggers({ store, engine: pipelines, logger, dataKey });
    app = await buildApi({
      delivery: { service, controller },
      pipelines: { engine: pipelines, triggers },
      store,
      logger,
      local: { secret: localToken, actor: `local:${localUser()}` },
      info: { version: slipwayVersion(), startedAt: new Date().toISOString() },
    });
    await listen(app, settings);
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : settings.listen.port;
    const url = formatUrl({ host: settings.listen.host, port });
    logger.info({ url, store: store.location }, "slipway control plane listening");
    const running = app;
    controller.start();
    await pipelines.start();
    // Local git hooks call back on this URL: a wildcard listen address is reached on loopback.
    await triggers.start({ serverUrl: hookBaseUrl(settings.listen.host, port) });
    let stopping: Promise<void> | undefined;
    return {
      url,
      adminToken,
      localToken,
      store,
      logger,
      app: running,
      controller,
      pipelines,
      triggers,
      stop: () =>
        // Artifact copies first: a deploy (or a pipeline's deploy step) copying a large tree must not
        // hold the stop for the rest of its copy.
        (stopping ??= (async () => {
          service.stop();
          await triggers.stop();
          await pipelines.stop();
          await controller.stop();
          await closeAll(running, store, logger);
        })()),
    };
  } catch (err) {
    await app?.close();
    await store.close();
    throw err;
  }
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

async function closeAll(app: FastifyInstance, store: Store, logger: Logger): Promise<void> {
  logger.info("slipway control plane stopping");
  await app.close();
  await store.close();
  logger.info("slipway control plane stopped");
  await new Promise<void>((resolve) => {
    logger.flush(() => {
      resolve();
    });
  });
}
