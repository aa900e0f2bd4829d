/**
 * One router listener per environment. A new environment gets its listener only once its table is
 * valid and the address is bound, so a refused PUT changes nothing; an existing one swaps its table
 * atomically (the router's setRoutes). Targets that name one of the agent's instances are left out of
 * the applied table while that instance is not ready ("not ready: out of rotation").
 */
import { createServer } from "node:net";
import type { Logger } from "pino";
import { parseListenAddress } from "../shared/index.js";
import { createRouter, type RouteTable, type Router } from "../router/index.js";
import { SlipwayError, clientMessage } from "../util/index.js";
import type { EnvironmentSpec, EnvironmentState, ListenCheck, StatsWindowJson } from "./types.js";

export interface EnvironmentsOptions {
  logger: Logger;
  now: () => number;
  drainMs: number;
  /** True when the id names an instance of this agent that is not ready. */
  isOutOfRotation(targetId: string): boolean;
}

interface Entry {
  spec: EnvironmentSpec;
  router: Router | undefined;
  address: { host: string; port: number } | undefined;
  error?: string;
}

export class Environments {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly options: EnvironmentsOptions) {}

  /** Creates the listener or swaps the table. Throws `invalid_request` or `address_in_use`; nothing changes then. */
  async put(name: string, spec: EnvironmentSpec): Promise<void> {
    const existing = this.#entries.get(name);
    if (existing?.router !== undefined && existing.spec.listen === spec.listen) {
      existing.router.setRoutes(this.#effective(spec.routes));
      existing.spec = spec;
      return;
    }
    const { router, address } = await this.#open(name, spec);
    this.#entries.set(name, { spec, router, address });
    // A moved listener: the old one drains in the background; the PUT need not wait for it.
    if (existing?.router !== undefined) this.#close(name, existing.router);
  }

  /** At start: a listener that cannot be restored is reported in the state, not fatal. */
  async restore(name: string, spec: EnvironmentSpec): Promise<void> {
    try {
      await this.put(name, spec);
    } catch (err) {
      const error = clientMessage(err);
      this.options.logger.error({ env: name, err }, "could not restore environment listener");
      this.#entries.set(name, { spec, router: undefined, address: undefined, error });
    }
  }

  async delete(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new SlipwayError("not_found", `no environment ${JSON.stringify(name)}`);
    this.#entries.delete(name);
    await entry.router?.stop({ drainMs: this.options.drainMs });
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /**
   * Whether a router could listen on `listen` now, changing nothing: one of our own listeners holds it
   * (`heldBy`), or a bind is tried and released at once. Lets the control plane refuse an apply whose
   * address another process holds before anything is committed (a later bind can still lose a race).
   */
  async checkListen(listen: string): Promise<ListenCheck> {
    const address = parseListenAddress(listen);
    if (address === undefined) throw new SlipwayError("invalid_request", `listen: bad address ${listen}`);
    for (const [name, entry] of this.#entries) {
      const same = entry.address?.host === address.host && entry.address.port === address.port;
      if (entry.router !== undefined && (entry.spec.listen === listen || same)) {
        return { listen, available: false, heldBy: name };
      }
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

  specs(): Record<string, EnvironmentSpec> {
    return Object.fromEntries([...this.#entries].map(([name, entry]) => [name, entry.spec]));
  }

  list(): EnvironmentState[] {
    return [...this.#entries].map(([name, e]) => ({
      name,
      listen: e.spec.listen,
      routes: e.spec.routes,
      address: e.address,
      ...(e.error === undefined ? {} : { error: e.error }),
    }));
  }

  /** Re-applies every table, e.g. after an instance became ready or unready. */
  refresh(): void {
    for (const [name, entry] of this.#entries) {
      try {
        entry.router?.setRoutes(this.#effective(entry.spec.routes));
      } catch (err) {
        this.options.logger.error({ env: name, err }, "could not re-apply route table");
      }
    }
  }

  stats(env: string, service: string, release: string, sinceMs: number): StatsWindowJson {
    const router = this.#entries.get(env)?.router;
    if (router === undefined)
      throw new SlipwayError("not_found", `no listening environment ${JSON.stringify(env)}`);
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

  async stopAll(): Promise<void> {
    const routers = [...this.#entries.values()].flatMap((e) => (e.router ? [e.router] : []));
    this.#entries.clear();
    await Promise.all(routers.map((r) => r.stop({ drainMs: this.options.drainMs })));
  }

  async #open(name: string, spec: EnvironmentSpec) {
    const listen = parseListenAddress(spec.listen);
    if (listen === undefined) throw new SlipwayError("invalid_request", `listen: bad address ${spec.listen}`);
    const router = createRouter({ listen, env: name, logger: this.options.logger, now: this.options.now });
    try {
      router.setRoutes(this.#effective(spec.routes)); // validates before anything is bound
      const address = await router.start();
      return { router, address };
    } catch (err) {
      await router.stop({ drainMs: 0 });
      throw asListenError(err, spec.listen);
    }
  }

  #close(name: string, router: Router): void {
    router.stop({ drainMs: this.options.drainMs }).catch((err: unknown) => {
      this.options.logger.error({ env: name, err }, "old listener did not stop cleanly");
    });
  }

  #effective(table: RouteTable): RouteTable {
    const services = table.services.map((service) => ({
      ...service,
      releases: service.releases.map((release) => ({
        ...release,
        targets: release.targets.filter((t) => !this.options.isOutOfRotation(t.id)),
      })),
    }));
    return { ...table, services };
  }
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
