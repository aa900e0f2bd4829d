/**
 * Test support for the edge tests: an upstream on loopback, a steady keep-alive load through a router
 * that counts every failed request (and when it failed), and the route table that joins them.
 * (Excluded from the build.)
 */
import { Agent, createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { RouteTable } from "../router/index.js";

export async function startUpstream(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(`ok ${process.pid}`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export function tableTo(port: number): RouteTable {
  return {
    services: [
      {
        name: "web",
        pathPrefix: "/",
        releases: [{ name: "v1", weight: 100, targets: [{ id: "upstream", host: "127.0.0.1", port }] }],
      },
    ],
  };
}

/** Errors a client may retry once when they hit a reused keep-alive connection before any response. */
const STALE_CONNECTION = new Set(["ECONNRESET", "EPIPE"]);

/**
 * A few workers sending GETs back to back on keep-alive connections (paced by 2 ms, so a 2-core machine
 * shared with other tests is not saturated). A request that fails on a *reused* connection before any
 * response byte is retried once, as browsers and most HTTP clients do (RFC 9112 §9.3.1): that is the
 * race of a server closing an idle keep-alive connection, counted apart in `retried`.
 */
export class SteadyLoad {
  ok = 0;
  failed = 0;
  retried = 0;
  readonly failures: { at: number; error: string }[] = [];
  #running = true;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 8 });
  readonly #workers: Promise<void>[];

  constructor(
    private readonly port: number,
    workers = 3,
  ) {
    this.#workers = Array.from({ length: workers }, () => this.#work());
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
    this.#agent.destroy();
  }

  /** Time from the first failure to the last, in ms (0 when none failed). */
  gapMs(): number {
    const first = this.failures[0];
    const last = this.failures.at(-1);
    return first === undefined || last === undefined ? 0 : last.at - first.at;
  }

  async #work(): Promise<void> {
    while (this.#running) {
      const result = await this.#request(true);
      if (result === "ok") this.ok++;
      else {
        this.failed++;
        this.failures.push({ at: performance.now(), error: result });
      }
      await sleep(2);
    }
  }

  #request(mayRetry: boolean): Promise<string> {
    return new Promise((resolve) => {
      const req = get({ host: "127.0.0.1", port: this.port, path: "/", agent: this.#agent }, (res) => {
        res.resume();
        res.on("end", () => {
          resolve(res.statusCode === 200 ? "ok" : `HTTP ${res.statusCode ?? 0}`);
        });
        res.on("error", (err) => {
          resolve(err.message);
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
      req.on("error", (err: NodeJS.ErrnoException) => {
        const stale =
          req.reusedSocket && (STALE_CONNECTION.has(err.code ?? "") || err.message === "socket hang up");
        if (stale && mayRetry) {
          this.retried++;
          resolve(this.#request(false));
          return;
        }
        resolve(`${err.code ?? ""} ${err.message}`);
      });
    });
  }
}
