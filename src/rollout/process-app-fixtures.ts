/**
 * What every ProcessWorld (process-world-fixtures.ts) deploys and applies: the test app (its behaviour
 * comes from behaviour.json, so one source serves a good release, a failing one, a slow starter…), an
 * artifact directory per version, and the project's slipway.yaml around a service's `rollout:` block.
 * Also used by the in-process rollout tests (test-fixtures.ts), which deploy the same app.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The service every world deploys. `startDelayMs` holds the listen back, so an instance stays
 * unready for that long (a slow start, to catch a rollout while its instances start).
 */
const APP = `
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
const b = JSON.parse(readFileSync("behaviour.json", "utf8"));
if (b.crash) { console.error("boom: this release cannot start"); process.exit(1); }
const server = createServer((req, res) => {
  if (req.url === "/healthz") { res.statusCode = b.unhealthy ? 500 : 200; res.end("ok"); return; }
  const answer = () => {
    if (Math.random() < (b.failRate ?? 0)) { res.statusCode = 500; res.end("fail"); return; }
    res.end(process.env.SLIPWAY_RELEASE);
  };
  if (b.hang) return;
  if (b.delayMs) setTimeout(answer, b.delayMs); else answer();
});
const listen = () => server.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening on " + process.env.PORT));
if (b.startDelayMs) setTimeout(listen, b.startDelayMs); else listen();
process.on("SIGTERM", () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

export interface Behaviour {
  failRate?: number;
  delayMs?: number;
  /** Milliseconds before the app listens (it is not ready until then). */
  startDelayMs?: number;
  crash?: boolean;
  unhealthy?: boolean;
  hang?: boolean;
  /** The app ignores SIGTERM (so only the stop timeout's SIGKILL ends it). */
  ignoreTerm?: boolean;
}

/** The test app's source for a behaviour (its other switches are read from behaviour.json at start). */
export function testAppSource(behaviour: Behaviour): string {
  return behaviour.ignoreTerm === true
    ? APP.replace('process.on("SIGTERM", () => {', 'process.on("SIGTERM", () => { return;')
    : APP;
}

/** `<root>/artifacts/<version>/`: the test app and its behaviour, ready to deploy. */
export function writeTestArtifact(root: string, version: string, behaviour: Behaviour): string {
  const dir = join(root, "artifacts", version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "app.mjs"), testAppSource(behaviour));
  writeFileSync(join(dir, "behaviour.json"), JSON.stringify(behaviour));
  return dir;
}

export interface ProcessWorldConfig {
  /**
   * The service's `rollout:` block: YAML flow text (`{ strategy: canary, … }`) on one line, or block
   * YAML on several lines (indented as it is anywhere; it is re-indented under `rollout:`).
   */
  rollout: string;
  instances?: number;
  /** Extra lines under `run:` (e.g. `stopTimeout: 5s`). */
  run?: string[];
  readiness?: string;
}

/** Indents a rollout block for `    rollout:`; a one-line flow mapping stays on the key's line. */
function rolloutYaml(text: string): string[] {
  const lines = text.replace(/\s+$/, "").split("\n");
  if (lines.length === 1) return [`    rollout: ${text.trim()}`];
  const body = lines.filter((l) => l.trim() !== "");
  const indent = Math.min(...body.map((l) => /^ */.exec(l)?.[0].length ?? 0));
  return ["    rollout:", ...body.map((l) => `      ${l.slice(indent)}`)];
}

/** The whole slipway.yaml of a world: one environment routed on `routerPort`, the service `web`. */
export function configYaml(config: ProcessWorldConfig, routerPort: number): string {
  return [
    "project: shop",
    "environments:",
    `  production: { router: { listen: 127.0.0.1:${routerPort} } }`,
    "services:",
    "  web:",
    "    route: { path: / }",
    "    run:",
    "      command: node app.mjs",
    `      instances: ${config.instances ?? 2}`,
    ...(config.run ?? []).map((line) => `      ${line}`),
    "    health:",
    `      readiness: ${config.readiness ?? "{ http: /healthz, interval: 200ms, timeout: 1s, healthyAfter: 1, unhealthyAfter: 2 }"}`,
    ...rolloutYaml(config.rollout),
    "",
  ].join("\n");
}
