/**
 * Names and listen addresses, checked the same way by the control plane (slipway.yaml) and by the node
 * agent (its local API), which must not load the config domain to do it. `src/config` re-exports these
 * and builds its zod helpers on them.
 */
import { isIP } from "node:net";

export const LABEL_PATTERN = "^[a-z][a-z0-9-]{0,62}$";
export const HOST_NAME_PATTERN =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function isLabel(text: string): boolean {
  return new RegExp(LABEL_PATTERN).test(text);
}

export function isHostName(text: string): boolean {
  return HOST_NAME_PATTERN.test(text);
}

/**
 * `{ host, port }` for a `host:port` listen address; undefined when it is not one.
 *
 * @example
 *   parseListenAddress("127.0.0.1:8080"); // { host: "127.0.0.1", port: 8080 }
 *   parseListenAddress("[::1]:8080"); // { host: "::1", port: 8080 }
 *   parseListenAddress("edge.internal:0"); // undefined (port 1 to 65535)
 */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  const bracketed = match[1];
  if (bracketed !== undefined) return isIP(bracketed) === 6 ? { host: bracketed, port } : undefined;
  const host = match[2] ?? "";
  return isIP(host) === 4 || isHostName(host.toLowerCase()) ? { host, port } : undefined;
}
