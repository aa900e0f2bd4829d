import type { request } from "undici";
import type { StoredEvent } from "../store/index.js";
import { isErrorCode, parseEventStream, SlipwayError } from "../util/index.js";

/**
 * The CLI's only way to the control plane. Problems from the server become SlipwayErrors with the
 * server's code, message and hint; a connection failure names the URL it tried.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    /** Sent as the bearer token; the log stream's raw request needs it too. */
    readonly token: string | undefined,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>("DELETE", path);
  }

  private async call<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await this.send(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 400) throw problemError(response.statusCode, text);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      // Something else listens there (a web server, a proxy's error page): the URL is wrong, not slipway.
      throw new SlipwayError(
        "server_unreachable",
        `the server at ${this.baseUrl} answered ${response.statusCode} with something that is not JSON`,
        { hint: "is --server (or SLIPWAY_SERVER) a Slipway control plane?", cause: err },
      );
    }
  }

  /**
   * Follows the event stream, yielding events until `signal` aborts. Reconnects after a dropped
   * connection (server restart) and resumes with Last-Event-ID, so nothing is missed or repeated.
   */
  async *followEvents(
    query: string,
    signal: AbortSignal,
    onReconnect?: (error: unknown) => void,
  ): AsyncGenerator<StoredEvent> {
    let lastId: number | undefined;
    while (!signal.aborted) {
      try {
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
        if (lastId !== undefined) headers["last-event-id"] = String(lastId);
        const response = await this.send(`/api/v1/events${query}`, { method: "GET", headers, signal });
        if (response.statusCode >= 400) throw problemError(response.statusCode, await response.body.text());
        for await (const event of parseEventStream<StoredEvent>(response.body)) {
          lastId = event.id;
          yield event;
        }
      } catch (err) {
        // TS narrows `aborted` from the loop condition, but an abort arrives while we await.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (signal.aborted) return;
        if (err instanceof SlipwayError && err.code !== "server_unreachable") throw err;
        onReconnect?.(err);
      }
      await sleep(1000, signal);
    }
  }

  private async send(path: string, options: Parameters<typeof request>[1] & object) {
    const url = new URL(path, this.baseUrl);
    // Loaded on the first request, not with the CLI: verbs that send none (--version, validate, init)
    // do not pay for the HTTP client.
    const { request: send } = await import("undici");
    try {
      return await send(url, { ...options, headersTimeout: 30_000 });
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw new SlipwayError("server_unreachable", `cannot reach the Slipway server at ${this.baseUrl}`, {
        hint: "start it with `slipway up`, or point --server / SLIPWAY_SERVER at it",
        cause: err,
      });
    }
  }
}

/**
 * A problem document as an error. A code this CLI does not know (from a newer server) is kept out of
 * `code`, which must stay one of the catalogue's, and the detail is still said.
 */
function problemError(status: number, text: string): SlipwayError {
  try {
    const problem = JSON.parse(text) as {
      code?: unknown;
      detail?: string;
      hint?: string;
      errors?: unknown;
    };
    if (problem.code !== undefined && problem.detail !== undefined) {
      const code = isErrorCode(problem.code) ? problem.code : "internal";
      return new SlipwayError(code, problem.detail, { hint: problem.hint, details: problem.errors });
    }
  } catch {
    // not a problem document: fall through
  }
  return new SlipwayError("internal", `the server answered ${status}: ${text.slice(0, 200)}`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
