/**
 * The control API's input checks, by hand: zod costs the edge memory it does not need for three
 * shapes. Shapes are strict (an unknown field is an error, as in the agent's API); the router checks a
 * route table's meaning (weights summing to 100, names, port ranges) itself when it is applied. Every
 * failure is `invalid_request` naming the field.
 */
import { LABEL_PATTERN, parseListenAddress } from "../shared/index.js";
import type { RouteTable } from "../router/index.js";
import { SlipwayError } from "../util/index.js";
import type { EdgeEnvSpec } from "./types.js";

const LABEL = new RegExp(LABEL_PATTERN);

function invalid(field: string, message: string): never {
  throw new SlipwayError("invalid_request", `${field}: ${message}`, { details: [{ path: field, message }] });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function strictRecord(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (!isRecord(value)) invalid(field, "expected an object");
  const extra = Object.keys(value).filter((k) => !keys.includes(k));
  if (extra.length > 0) invalid(field, `unknown field ${JSON.stringify(extra[0])}`);
  return value;
}

export function checkEnvName(name: string): string {
  if (!LABEL.test(name)) {
    invalid("environment", "expected a lowercase name of letters, digits and -, starting with a letter");
  }
  return name;
}

function checkListenText(value: unknown, field: string): string {
  if (typeof value !== "string" || parseListenAddress(value) === undefined) {
    invalid(field, "expected host:port such as 127.0.0.1:8080");
  }
  return value;
}

export function checkEnvSpec(body: unknown): EdgeEnvSpec {
  const record = strictRecord(body, "body", ["listen", "routes"]);
  const listen = checkListenText(record.listen, "listen");
  return { listen, routes: checkRouteTable(record.routes) };
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") invalid(field, "expected a non-empty string");
  return value;
}

function optionalText(value: unknown, field: string): string | undefined {
  return value === undefined ? undefined : text(value, field);
}

function num(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) invalid(field, "expected a number");
  return value;
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) invalid(field, "expected an array");
  return value;
}

/** The table's shape, strictly (an unknown field is an error); its meaning is the router's to check. */
function checkRouteTable(value: unknown): RouteTable {
  const table = strictRecord(value, "routes", ["services", "stickyCookie", "overrideHeader"]);
  const services = list(table.services, "routes.services").map((input, i) => {
    const at = `routes.services[${i}]`;
    const service = strictRecord(input, at, ["name", "host", "pathPrefix", "releases"]);
    const releases = list(service.releases, `${at}.releases`).map((rin, j) => {
      const rat = `${at}.releases[${j}]`;
      const release = strictRecord(rin, rat, ["name", "weight", "targets"]);
      const targets = list(release.targets, `${rat}.targets`).map((tin, k) => {
        const tat = `${rat}.targets[${k}]`;
        const target = strictRecord(tin, tat, ["id", "host", "port"]);
        return {
          id: text(target.id, `${tat}.id`),
          host: text(target.host, `${tat}.host`),
          port: num(target.port, `${tat}.port`),
        };
      });
      return {
        name: text(release.name, `${rat}.name`),
        weight: num(release.weight, `${rat}.weight`),
        targets,
      };
    });
    const host = optionalText(service.host, `${at}.host`);
    return {
      name: text(service.name, `${at}.name`),
      ...(host === undefined ? {} : { host }),
      pathPrefix: text(service.pathPrefix, `${at}.pathPrefix`),
      releases,
    };
  });
  const stickyCookie = optionalText(table.stickyCookie, "routes.stickyCookie");
  const overrideHeader = optionalText(table.overrideHeader, "routes.overrideHeader");
  return {
    services,
    ...(stickyCookie === undefined ? {} : { stickyCookie }),
    ...(overrideHeader === undefined ? {} : { overrideHeader }),
  };
}

export function checkListenBody(body: unknown): string {
  return checkListenText(strictRecord(body, "body", ["listen"]).listen, "listen");
}

/** `{}` or `{ main: "/abs/path/dist/edge/main.js" }`: the entry of the edge to hand over to. */
export function checkUpgradeBody(body: unknown): { main: string | undefined } {
  const record = strictRecord(body ?? {}, "body", ["main"]);
  if (record.main === undefined) return { main: undefined };
  if (typeof record.main !== "string" || !record.main.startsWith("/") || !record.main.endsWith(".js")) {
    invalid("main", "expected an absolute path to the new edge's main.js");
  }
  return { main: record.main };
}

export function checkSinceMs(text: string | null): number | undefined {
  if (text === null) return undefined;
  const value = Number(text);
  if (text === "" || !Number.isInteger(value) || value < 0)
    invalid("sinceMs", "expected a whole number of ms");
  return value;
}
