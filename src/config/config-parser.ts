/**
 * Parsing slipway.yaml off the control plane's event loop. `POST /config/plan` is open to viewers and
 * the worst file within MAX_CONFIG_BYTES costs the parser about 0.6 s of CPU; on the event loop that
 * is 0.6 s during which `/healthz`, the rollout controller and every other request wait, and a few such
 * requests at once would add up. In a worker thread the loop only copies the text over and the result
 * back. One worker, one source at a time: concurrent requests queue behind each other, not in front of
 * everything else, and a source that takes longer than `timeoutMs` is refused and its worker replaced.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ConfigError, SlipwayError, type ConfigIssue } from "../util/index.js";
import { deepFreeze, type LoadedConfig } from "./load.js";
import type { SlipwayConfig } from "./schema.js";

/** @internal The message the control plane posts to the worker. */
export interface ParseRequest {
  id: number;
  source: string;
  file: string;
}

/** @internal What the worker posts once, when its modules are loaded. */
export const READY = "ready";

/** @internal The worker's answer: the config, the config's issues, or an unexpected failure. */
export type ParseReply =
  | { id: number; ok: true; sourceHash: string; config: SlipwayConfig }
  | { id: number; ok: false; issues: ConfigIssue[]; total: number }
  | { id: number; ok: false; failure: string };

export interface ConfigParser {
  /** Resolves to the loaded config or rejects with a ConfigError, exactly as `parseConfig` would. */
  parse(source: string, file: string): Promise<LoadedConfig>;
  /** Ends the worker; parses still queued are refused. */
  close(): Promise<void>;
}

export interface ConfigParserOptions {
  /** A source still being parsed after this long is refused and its worker replaced (default 10 s). */
  timeoutMs?: number;
  /**
   * The worker ends after this long without a parse, and the next parse starts a new one (default 30 s).
   * A worker holding the config schema costs the control plane 20–30 MB of RSS for as long as it lives,
   * and most of its life it is idle: a config is applied, then nothing is parsed for hours.
   */
  idleMs?: number;
}

interface Pending extends ParseRequest {
  resolve: (loaded: LoadedConfig) => void;
  reject: (error: unknown) => void;
}

/**
 * The compiled worker script. Trap: under vitest this module runs from `src/*.ts`, where no `.js`
 * sibling exists and a worker cannot load TypeScript on Node 20; it then uses the build in `dist/`
 * (`npm test` builds first, as the CLI tests need it too).
 */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.endsWith(".ts") ? here.replace(/([\\/])src([\\/])/, "$1dist$2") : here;
  const path = built.replace(/config-parser\.(ts|js)$/, "parse-worker.js");
  if (!existsSync(path)) {
    throw new SlipwayError(
      "internal",
      `the config parser's worker is missing at ${path}; run \`npm run build\``,
    );
  }
  return path;
}

/**
 * Starts nothing until the first parse; the worker then stays for the next ones, until it has been
 * idle for `idleMs`.
 *
 * @example
 *   const parser = createConfigParser();
 *   const loaded = await parser.parse(body.source, body.file); // or throws ConfigError
 *   await parser.close();
 */
export function createConfigParser(options: ConfigParserOptions = {}): ConfigParser {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const idleMs = options.idleMs ?? 30_000;
  const queue: Pending[] = [];
  let worker: Worker | undefined;
  let current: Pending | undefined;
  let timer: NodeJS.Timeout | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  /** The worker has loaded its modules (it says so once): the time a parse is given starts then. */
  let ready = false;
  let nextId = 1;
  let closed = false;

  function onMessage(message: ParseReply | typeof READY): void {
    if (message === READY) {
      ready = true;
      if (current !== undefined) startTimer(current);
    } else {
      settle(message);
    }
  }

  function settle(reply: ParseReply): void {
    const job = current;
    if (job?.id !== reply.id) return;
    clearTimeout(timer);
    current = undefined;
    if (reply.ok) {
      job.resolve({
        file: job.file,
        source: job.source,
        sourceHash: reply.sourceHash,
        config: deepFreeze(reply.config),
      }); // a clone: freeze it again
    } else if ("issues" in reply) {
      job.reject(new ConfigError(reply.issues, reply.total));
    } else {
      job.reject(
        new SlipwayError("internal", "the config parser failed", { cause: new Error(reply.failure) }),
      );
    }
    next();
  }

  function fail(error: unknown): void {
    // The worker died (or was ended for a timeout): whatever it held is refused, the next parse starts a new one.
    const dead = worker;
    worker = undefined;
    ready = false;
    void dead?.terminate();
    clearTimeout(timer);
    const job = current;
    current = undefined;
    job?.reject(error);
    next();
  }

  function spawn(): Worker {
    const created = new Worker(workerPath());
    created.on("message", onMessage);
    created.on("error", (error) => {
      if (worker === created)
        fail(new SlipwayError("internal", "the config parser failed", { cause: error }));
    });
    created.on("exit", (code) => {
      if (worker === created && !closed) {
        fail(new SlipwayError("internal", `the config parser's worker exited (${code})`));
      }
    });
    created.unref();
    return created;
  }

  function next(): void {
    if (current !== undefined || closed) return;
    clearTimeout(idleTimer);
    const job = queue.shift();
    if (job === undefined) {
      if (worker !== undefined) idleTimer = setTimeout(endIdleWorker, idleMs).unref();
      return;
    }
    current = job;
    try {
      worker ??= spawn();
    } catch (error) {
      fail(error);
      return;
    }
    if (ready) startTimer(job);
    worker.postMessage({ id: job.id, source: job.source, file: job.file } satisfies ParseRequest);
  }

  /** Nothing is queued or parsing (next() set this timer with none, and any parse clears it). */
  function endIdleWorker(): void {
    const idle = worker;
    worker = undefined;
    ready = false;
    void idle?.terminate();
  }

  function startTimer(job: Pending): void {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const issue = {
        file: job.file,
        line: 0,
        column: 0,
        path: "",
        message: `checking this file took longer than ${timeoutMs / 1000} s; it is refused`,
      };
      fail(new ConfigError([issue]));
    }, timeoutMs);
  }

  return {
    parse(source, file) {
      if (closed) return Promise.reject(new SlipwayError("server_stopping", "the server is stopping"));
      return new Promise<LoadedConfig>((resolve, reject) => {
        queue.push({ id: nextId++, source, file, resolve, reject });
        next();
      });
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      clearTimeout(idleTimer);
      const stopping = new SlipwayError("server_stopping", "the server is stopping");
      for (const job of queue.splice(0)) job.reject(stopping);
      current?.reject(stopping);
      current = undefined;
      const ending = worker;
      worker = undefined;
      ready = false;
      await ending?.terminate();
    },
  };
}
