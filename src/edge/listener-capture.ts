/**
 * Reaches the listening server inside a router, which the router does not expose: the edge needs it to
 * hand the listening socket to a new edge process (upgrade), and to make a router listen on a socket
 * handed over instead of binding again.
 *
 * How: Node publishes every `net.Server#listen` call on the public diagnostics channel
 * `tracing:net.server.listen:asyncStart` with `{ server, options }`, synchronously, before it looks at
 * `options.handle`. `Router.start()` calls `listen` synchronously, so a capture armed around that one
 * call sees the router's server, and may set `options.handle` to the handed-over TCP handle: Node then
 * adopts that handle (`listen(handle)`) instead of binding.
 *
 * Trap: this relies on the publish coming before the handle check (Node 20.13+, 22). The handover test
 * (edge-upgrade.test.ts) fails if a Node release changes it. The plain fix is a router option
 * (`listen: { handle }`) and a `router.listener()` accessor; asked for in issue 10's notes.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { Server } from "node:net";

const CHANNEL = "tracing:net.server.listen:asyncStart";

interface Armed {
  server: Server | undefined;
  /** The TCP handle to listen on instead of binding (a handed-over socket). */
  handle: unknown;
}

export class ListenerCapture {
  #armed: Armed | undefined;
  readonly #onListen = (message: unknown): void => {
    const armed = this.#armed;
    if (armed === undefined || armed.server !== undefined) return;
    if (typeof message !== "object" || message === null) return;
    const server: unknown = Reflect.get(message, "server");
    const options: unknown = Reflect.get(message, "options");
    if (!(server instanceof Server)) return;
    armed.server = server;
    if (armed.handle !== undefined && typeof options === "object" && options !== null) {
      Reflect.set(options, "handle", armed.handle);
    }
  };

  constructor() {
    subscribe(CHANNEL, this.#onListen);
  }

  /**
   * Runs `start` (which must call `listen` synchronously, as `Router.start()` does) and returns the server
   * it listened, with `start`'s promise. With `handle`, the server adopts that socket.
   */
  capture<T>(start: () => Promise<T>, handle?: unknown): { server: Server | undefined; started: Promise<T> } {
    const armed: Armed = { server: undefined, handle };
    this.#armed = armed;
    let started: Promise<T>;
    try {
      started = start();
    } finally {
      this.#armed = undefined;
    }
    return { server: armed.server, started };
  }

  close(): void {
    unsubscribe(CHANNEL, this.#onListen);
  }
}

/** The TCP handle inside a server received over IPC (what `listen(handle)` takes). */
export function handleOf(server: Server): unknown {
  return Reflect.get(server, "_handle");
}
