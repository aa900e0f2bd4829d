import type { FastifyInstance } from "fastify";

/** Paths polled by machines: logged at debug so they do not drown what people do. */
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * One log line per request, after the response: method, URL, status, duration and who asked. Reads
 * are `debug`; changes are `info` and failures `warn` or `error`, so the terminal of `slipway up` shows
 * what happened without a line for every status poll. The URL is logged as it came: the logger redacts
 * credentials in every line it writes (`?token=`, userinfo, …; see src/util/redact.ts), here included.
 */
export function registerRequestLog(app: FastifyInstance): void {
  app.addHook("onResponse", async (request, reply) => {
    const status = reply.statusCode;
    const line = {
      method: request.method,
      url: request.url,
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      actor: request.principal?.actor,
    };
    const message = `${request.method} ${request.url} ${status}`;
    if (status >= 500) request.log.error(line, message);
    else if (status >= 400) request.log.warn(line, message);
    else if (request.method === "GET" || QUIET.has(request.url)) request.log.debug(line, message);
    else request.log.info(line, message);
  });
}
