/**
 * One forked router worker as the edge sees it: its child process and the requests in flight over its
 * IPC channel, each answered once (or failed by a timeout, or by the worker's exit).
 */
import { fork, type ChildProcess } from "node:child_process";
import type { Server } from "node:net";
import { SlipwayError } from "../util/index.js";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.js";

const READY_TIMEOUT_MS = 15_000;

type Answer = Exclude<WorkerReply, { kind: "ready" } | { kind: "failed" }>;
/** A request without its id (the channel numbers them), each kind keeping its own fields. */
export type WorkerRequestBody = WorkerRequest extends infer R
  ? R extends WorkerRequest
    ? Omit<R, "id">
    : never
  : never;

interface Pending {
  resolve(answer: Answer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class WorkerChannel {
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #exited = false;
  /** Resolves once the process has exited (whatever the cause). */
  readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        this.#exited = true;
        for (const p of this.#pending.values()) {
          clearTimeout(p.timer);
          p.reject(new SlipwayError("not_running", `edge worker ${child.pid ?? "?"} exited`));
        }
        this.#pending.clear();
        resolve();
      });
    });
    child.on("message", (reply: WorkerReply) => {
      if (reply.kind === "ready") return;
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return; // answered after its timeout
      this.#pending.delete(reply.id);
      clearTimeout(pending.timer);
      if (reply.kind === "failed") pending.reject(new Error(`${reply.code}: ${reply.message}`));
      else pending.resolve(reply);
    });
    // A send to a worker that just died fails here too; the exit handler settles what was pending.
    child.on("error", () => undefined);
  }

  /** Forks `main` and resolves once the worker says it is ready. */
  static async start(main: string, args: string[]): Promise<WorkerChannel> {
    // Not detached: a worker belongs to the edge (same session), and exits when the edge's channel closes.
    const child = fork(main, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const channel = new WorkerChannel(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new SlipwayError("not_running", `edge worker not ready within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      const onReady = (reply: WorkerReply) => {
        if (reply.kind !== "ready") return;
        clearTimeout(timer);
        child.off("message", onReady);
        resolve();
      };
      child.on("message", onReady);
      void channel.exited.then(() => {
        clearTimeout(timer);
        reject(new SlipwayError("not_running", "edge worker exited before it was ready"));
      });
    }).catch((err: unknown) => {
      child.kill("SIGKILL");
      throw err;
    });
    return channel;
  }

  get pid(): number | undefined {
    return this.#exited ? undefined : this.child.pid;
  }

  get alive(): boolean {
    return !this.#exited && this.child.connected;
  }

  /** Sends one request (with a listening server as its handle when given) and waits for its answer. */
  request(body: WorkerRequestBody, timeoutMs: number, server?: Server): Promise<Answer> {
    if (!this.alive) return Promise.reject(new SlipwayError("not_running", "edge worker not running"));
    const id = this.#nextId++;
    const message: WorkerRequest = { ...body, id };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new SlipwayError("not_running", `edge worker ${this.child.pid ?? "?"} did not answer in time`),
        );
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.child.send(message, server, (err) => {
        if (err === null) return;
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  kill(): void {
    if (!this.#exited) this.child.kill("SIGKILL");
  }
}
