/**
 * Every environment's router in the edge process: one listener and table per environment, opened or
 * swapped by `put`, drained by `remove`. A new environment gets its listener only once its table is
 * valid and its address bound, so a refused put changes nothing; the same listen swaps the table (no
 * rebind); a changed listen opens the new listener first and drains the old one.
 */
import { createServer, type Server } from "node:net";
import { Registry } from "prom-client";
import { parseListenAddress } from "../shared/index.js";
import { createRouter, type RouteTable, type Router } from "../router/index.js";
import { SlipwayError } from "../util/index.js";
import { ListenerCapture } from "./listener-capture.js";
import type { EdgeLogger } from "./log.js";
import type { EdgeEnvSpec, EdgeEnvState, EdgeListenCheck, EdgeStatsJson } from "./types.js";

export interface EdgeRoutersOptions {
  logger: EdgeLogger;
  drainMs: number;
  now?: () => number;
}

interface Entry {
  listen: string;
  routes: RouteTable;
  router: Router;
  /** The router's listening server, for a handover. */
  server: Server | undefined;
  address: { host: string; port: number };
}

/** One environment's listener as handed to a new edge. */
export interface Listener {
  name: string;
  listen: string;
  routes: RouteTable;
  server: Server | undefined;
}

export class EdgeRouters {
  readonly #entries = new Map<string, Entry>();
  readonly #capture = new ListenerCapture();
  readonly #registry = new Registry();
  /** Changes run one at a time: two puts of one environment must not both bind. */
  #lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: EdgeRoutersOptions) {}

  put(name: string, spec: EdgeEnvSpec): Promise<EdgeEnvState> {
    return this.#locked(async () => {
      const existing = this.#entries.get(name);
      if (existing?.listen === spec.listen) {
        existing.router.setRoutes(spec.routes);
        existing.routes = spec.routes;
        return stateOf(name, existing);
      }
      const entry = await this.#open(name, spec);
      this.#entries.set(name, entry);
      // A moved listener: the old one drains in the background; the put need not wait for it.
      if (existing !== undefined) this.#drain(name, existing.router);
      return stateOf(name, entry);
    });
  }

  /**
   * Opens a router on a socket handed over (by the previous edge, or by the primary to a worker): no
   * bind. A router this environment had before drains in the background.
   */
  adopt(name: string, spec: EdgeEnvSpec, handle: unknown): Promise<EdgeEnvState> {
    return this.#locked(async () => {
      const entry = await this.#open(name, spec, handle);
      const existing = this.#entries.get(name);
      this.#entries.set(name, entry);
      if (existing !== undefined) this.#drain(name, existing.router);
      return stateOf(name, entry);
    });
  }

  /** Swaps the table of a listening environment; never binds (a worker has no address of its own). */
  swap(name: string, routes: RouteTable): Promise<void> {
    return this.#locked(() => {
      const existing = this.#entries.get(name);
      if (existing === undefined) {
        throw new SlipwayError("not_found", `no listening environment ${JSON.stringify(name)}`);
      }
      existing.router.setRoutes(routes);
      existing.routes = routes;
      return Promise.resolve();
    });
  }

  /** The environment's listening server (to share with workers), when it has one. */
  server(name: string): Server | undefined {
    return this.#entries.get(name)?.server;
  }

  /** Resolves once the listener has drained. */
  async remove(name: string): Promise<void> {
    const entry = await this.#locked(() => {
      const found = this.#entries.get(name);
      if (found === undefined) throw new SlipwayError("not_found", `no environment ${JSON.stringify(name)}`);
      this.#entries.delete(name);
      return Promise.resolve(found);
    });
    await entry.router.stop({ drainMs: this.options.drainMs });
  }

  /** Whether a router could listen on `listen` now, changing nothing. */
  async checkListen(listen: string): Promise<EdgeListenCheck> {
    const address = parseListenAddress(listen);
    if (address === undefined) throw new SlipwayError("invalid_request", `listen: bad address ${listen}`);
    for (const [name, entry] of this.#entries) {
      const same = entry.address.host === address.host && entry.address.port === address.port;
      if (entry.listen === listen || same) return { listen, available: false, heldBy: name };
    }
    try {
      await tryBind(address.host, address.port);
      return { listen, available: true };
    } catch (err) {
      const refused = asListenError(err, listen);
      if (!(refused instanceof SlipwayError)) throw refused;
      return { listen, available: false, code: refused.code, message: refused.message };
    }
  }

  list(): EdgeEnvState[] {
    return [...this.#entries].map(([name, entry]) => stateOf(name, entry));
  }

  listeners(): Listener[] {
    return [...this.#entries].map(([name, e]) => ({
      name,
      listen: e.listen,
      routes: e.routes,
      server: e.server,
    }));
  }

  stats(env: string, service: string, release: string, sinceMs: number): EdgeStatsJson {
    const router = this.#entries.get(env)?.router;
    if (router === undefined) {
      throw new SlipwayError("not_found", `no listening environment ${JSON.stringify(env)}`);
    }
    const w = router.stats(service, release).window(sinceMs);
    const finite = (n: number) => (Number.isFinite(n) ? n : null);
    return {
      requests: w.requests,
      errors: w.errors,
      aborted: w.aborted,
      upgrades: w.upgrades,
      latenciesMs: Array.from(w.latenciesMs),
      statusClasses: { ...w.statusClasses },
      p50: finite(w.p50),
      p95: finite(w.p95),
      p99: finite(w.p99),
    };
  }

  /** Prometheus text of every router's per-release counters. */
  metrics(): Promise<string> {
    return this.#registry.metrics();
  }

  /** Stops every listener with drain (SSE and WebSockets get `drainMs`, then are closed). */
  async stopAll(): Promise<void> {
    const routers = [...this.#entries.values()].map((e) => e.router);
    this.#entries.clear();
    this.#capture.close();
    await Promise.all(routers.map((r) => r.stop({ drainMs: this.options.drainMs })));
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#lock.then(fn, fn);
    this.#lock = result.catch(() => undefined);
    return result;
  }

  async #open(name: string, spec: EdgeEnvSpec, handle?: unknown): Promise<Entry> {
    const listen = parseListenAddress(spec.listen);
    if (listen === undefined) throw new SlipwayError("invalid_request", `listen: bad address ${spec.listen}`);
    const { logger, now } = this.options;
    const router = createRouter({
      listen,
      env: name,
      logger,
      metrics: this.#registry,
      ...(now === undefined ? {} : { now }),
    });
    try {
      router.setRoutes(spec.routes); // validates before anything is bound
      const { server, started } = this.#capture.capture(() => router.start(), handle);
      const address = await started;
      return { listen: spec.listen, routes: spec.routes, router, server, address };
    } catch (err) {
      await router.stop({ drainMs: 0 });
      throw asListenError(err, spec.listen);
    }
  }

  #drain(name: string, router: Router): void {
    router.stop({ drainMs: this.options.drainMs }).catch((err: unknown) => {
      this.options.logger.error({ env: name, err }, "old listener did not stop cleanly");
    });
  }
}

function stateOf(name: string, entry: Entry): EdgeEnvState {
  return { name, listen: entry.listen, address: entry.address };
}

/** Binds as the router does (same call, same options) and closes again. */
function tryBind(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, host, () => {
      server.close(() => {
        resolve();
      });
    });
  });
}

/** Any failure to bind (in use, address not on this host, privileged port) is the caller's to fix. */
function asListenError(err: unknown, listen: string): unknown {
  if (err instanceof SlipwayError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") {
    return new SlipwayError("address_in_use", `router: ${listen} is already in use`, { cause: err });
  }
  if (code === "EADDRNOTAVAIL" || code === "EACCES" || code === "ENOTFOUND") {
    return new SlipwayError("address_in_use", `router: cannot listen on ${listen}: ${code}`, { cause: err });
  }
  return err;
}
