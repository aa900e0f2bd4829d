/**
 * Test traffic for blue-green's pre-promotion analysis. Before the switch the new set serves no users,
 * so the controller sends it requests itself, through the environment's router with the override
 * header, and sends the same requests to the live release: the judge then compares the two releases
 * on identical traffic over the same window, which a comparison with real users' traffic would not be.
 *
 * Plain GETs of the service's route path, about 20 per second per release; the responses are read and
 * thrown away. Only what the router measures counts.
 */
import { Agent, request } from "node:http";
import type { Logger } from "pino";

const INTERVAL_MS = 50;
const TIMEOUT_MS = 5_000;

export interface PreviewTarget {
  /** `http://host:port` of the environment's router. */
  origin: string;
  path: string;
  host?: string | undefined;
  /** Each gets the same requests, by the override header. */
  releases: string[];
}

export class PreviewTraffic {
  readonly #loops = new Map<number, NodeJS.Timeout>();
  /** Kept-alive connections to the routers (node:http: the control plane does not load undici). */
  readonly #pool = new Agent({ keepAlive: true, maxSockets: 40 });

  constructor(private readonly logger: Logger) {}

  ensure(id: number, target: PreviewTarget): void {
    if (this.#loops.has(id)) return;
    this.logger.info({ rollout: id, releases: target.releases }, "sending preview traffic");
    let inFlight = 0;
    const timer = setInterval(() => {
      for (const release of target.releases) {
        if (inFlight >= 20) return;
        inFlight += 1;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          inFlight -= 1;
        };
        const req = request(
          `${target.origin}${target.path}`,
          {
            agent: this.#pool,
            timeout: TIMEOUT_MS,
            headers: {
              "x-slipway-release": release,
              "user-agent": "slipway-preview",
              ...(target.host === undefined ? {} : { host: target.host }),
            },
          },
          (res) => {
            // Read and thrown away: only what the router measures counts.
            res.resume();
            res.once("end", finish).once("close", finish);
          },
        );
        req.once("timeout", () => req.destroy());
        req.once("error", finish);
        req.end();
      }
    }, INTERVAL_MS);
    timer.unref();
    this.#loops.set(id, timer);
  }

  stop(id: number): void {
    const timer = this.#loops.get(id);
    if (timer === undefined) return;
    clearInterval(timer);
    this.#loops.delete(id);
  }

  stopAll(): void {
    for (const id of [...this.#loops.keys()]) this.stop(id);
    this.#pool.destroy();
  }
}
