import { get } from "node:http";
import type { ProbeAttempt, ProbeTarget } from "./probe.js";

/**
 * GET `path` on the instance; 2xx and 3xx pass (redirects are not followed: a 302 to a login page still
 * means the process answers).
 */
export function httpAttempt(target: ProbeTarget, path: string): ProbeAttempt {
  return (signal) =>
    new Promise((resolve) => {
      const request = get(
        {
          host: target.host,
          port: target.port,
          path,
          signal,
          // A fresh connection per probe: a pooled socket could hide that the listener is gone.
          agent: false,
          headers: { "user-agent": "slipway-health", connection: "close" },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          // Only the status matters; destroying also ends endless bodies (an SSE health endpoint).
          response.destroy();
          resolve({ ok: status >= 200 && status < 400, detail: `HTTP ${status}` });
        },
      );
      request.on("error", (e) => {
        resolve({ ok: false, detail: e.message });
      });
    });
}
