/**
 * The control plane's door. Light on purpose: settings, defaults and the version load nothing heavy, so
 * the CLI can import them for every verb, while the composition root (start-server.ts: the API, the
 * store, the rollout controller, the pipeline engine and all their dependencies) is loaded only when a
 * server is actually started. `slipway --version` paid for the whole control plane before this.
 */
import type { RunningServer, StartServerOptions } from "./start-server.js";

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
export { slipwayVersion } from "./version.js";
export type { RunningServer, StartServerOptions } from "./start-server.js";

/**
 * Starts a control plane (see start-server.ts for what starts, in which order, and how it stops).
 *
 * @example
 *   const server = await startServer({ settings: resolveServerSettings({}, process.env) });
 *   // … server.url answers; later:
 *   await server.stop();
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { startServer: start } = await import("./start-server.js");
  return start(options);
}
