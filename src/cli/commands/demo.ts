/**
 * `slipway demo`: the README's first command. On a fresh data directory it starts the node agent and
 * the control plane, applies the example's slipway.yaml, sends steady traffic to the production
 * router, and then deploys three releases of the example service, live:
 *
 *   v1  the first release (all traffic once its instances are ready);
 *   v2  a good release, by the example's canary steps, judged and promoted;
 *   v3  a bad release (30 % of its requests fail), caught by the judge and rolled back on its own.
 *
 * At the end it prints what the clients saw: requests, answers per release, failures, and the seconds
 * from the bad canary's first request to traffic back on v2. Everything runs on loopback, in a temp
 * data directory that is removed afterwards (`--keep` leaves it all running until Ctrl-C).
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { Agent as HttpAgent, request } from "undici";
import { loadConfigFile, parseListenAddress } from "../../config/index.js";
import { startServer, type RunningServer } from "../../server/index.js";
import type { Rollout, StoredEvent } from "../../store/index.js";
import { SlipwayError } from "../../util/index.js";
import { ensureAgent, type AgentProcess } from "../agent-process.js";
import { ApiClient } from "../client.js";
import type { CliContext } from "../context.js";
import type { Output } from "../output.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/shop/slipway.yaml", import.meta.url));
const RPS = 100;

interface Traffic {
  sent: number;
  byRelease: Map<string, number>;
  failed: number;
  /** Epoch ms of the first and last answer from each release. */
  firstSeen: Map<string, number>;
  lastSeen: Map<string, number>;
}

function startTraffic(url: string): { traffic: Traffic; stop(): Promise<void> } {
  const traffic: Traffic = {
    sent: 0,
    byRelease: new Map(),
    failed: 0,
    firstSeen: new Map(),
    lastSeen: new Map(),
  };
  const dispatcher = new HttpAgent({ connections: 8 });
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    traffic.sent += 1;
    const p = request(url, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 })
      .then(async (res) => {
        const text = await res.body.text();
        const release = res.headers["x-slipway-release"];
        const name = typeof release === "string" ? release : releaseOf(text);
        const now = Date.now();
        if (name !== undefined) {
          if (!traffic.firstSeen.has(name)) traffic.firstSeen.set(name, now);
          traffic.lastSeen.set(name, now);
        }
        if (res.statusCode >= 500) traffic.failed += 1;
        else if (name !== undefined) traffic.byRelease.set(name, (traffic.byRelease.get(name) ?? 0) + 1);
      })
      .catch(() => {
        traffic.failed += 1;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }, 1000 / RPS);
  return {
    traffic,
    async stop() {
      clearInterval(timer);
      await Promise.all([...inflight]);
      await dispatcher.close();
    },
  };
}

function releaseOf(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function describeEvent(e: StoredEvent): string | undefined {
  const p = (e.payload ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
  switch (e.type) {
    case "release.created":
      return `release ${str(p.version)} created (${str(p.artifactHash).slice(0, 19)}…)`;
    case "rollout.started":
      return `rollout ${str(p.id)}: ${str(p.release)} by ${str(p.strategy)}${p.previous === null ? "" : ` (replacing ${str(p.previous)})`}`;
    case "rollout.step":
      return `  step ${str(p.step)}/${str(p.steps)}: ${str(p.weight)}% of traffic to ${str(p.release)}`;
    case "rollout.analysis":
      return `  verdict ${str(p.result)}: ${str(p.message)}`;
    case "rollout.promoted":
      return `  promoted ${str(p.release)}: 100% of traffic`;
    case "rollout.rolled-back":
      return `  ROLLED BACK to ${str(p.to)}: ${str(p.reason)}`;
    case "rollout.failed":
      return `  FAILED: ${str(p.reason)}`;
    case "rollout.succeeded":
      return `  done: ${str(p.reason)}`;
    default:
      return undefined;
  }
}

async function waitForRollout(client: ApiClient, id: number, until: Rollout["status"][]): Promise<Rollout> {
  for (;;) {
    const { rollout } = await client.get<{ rollout: Rollout }>(`/api/v1/rollouts/${id}?verdicts=0`);
    if (until.includes(rollout.status)) return rollout;
    await sleep(200);
  }
}

function summary(output: Output, traffic: Traffic, badCaughtSeconds: number | undefined): void {
  const { c } = output;
  output.out("");
  output.out(c.bold("What the clients saw"));
  output.out(`  requests sent      ${traffic.sent}`);
  for (const [release, count] of [...traffic.byRelease].sort())
    output.out(`  answered by ${release.padEnd(6)} ${count}`);
  output.out(
    `  failed             ${traffic.failed}  (only the bad canary's share; none during the good rollouts)`,
  );
  if (badCaughtSeconds !== undefined) {
    output.out(
      `  bad canary caught  ${badCaughtSeconds.toFixed(1)} s from its first request to traffic back on v2`,
    );
  }
}

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command("demo")
    .description(
      "deploy the example service three times (first, good canary, bad canary) with traffic flowing",
    )
    .option("-f, --file <file>", "the config to demo", EXAMPLE)
    .option("--keep", "leave everything running afterwards, until Ctrl-C")
    .action(async (options: { file: string; keep?: boolean }) => {
      const { output } = ctx;
      const { c } = output;
      const file = resolve(ctx.cwd, options.file);
      const loaded = await loadConfigFile(file);
      const production = loaded.config.environments.production;
      const web = loaded.config.services.web;
      const listen = production === undefined ? undefined : parseListenAddress(production.router.listen);
      if (listen === undefined || web === undefined) {
        throw new SlipwayError(
          "invalid_request",
          `${file} needs an environment "production" and a service "web"`,
        );
      }
      const artifact = join(dirname(file), web.build?.artifact ?? "web");
      const dataDir = mkdtempSync(join(tmpdir(), "slipway-demo-"));
      const bad = mkdtempSync(join(tmpdir(), "slipway-demo-v3-"));
      let agent: AgentProcess | undefined;
      let server: RunningServer | undefined;
      try {
        agent = await ensureAgent(dataDir, "warn");
        server = await startServer({
          settings: {
            listen: { host: "127.0.0.1", port: 0 },
            dataDir,
            databaseUrl: undefined,
            logLevel: "info",
          },
        });
        output.out(
          `${c.green("●")} Slipway on ${c.bold(server.url)} with its node agent (pid ${agent.pid}); data in ${dataDir}`,
        );
        const client = new ApiClient(server.url, server.localToken);
        const source = loaded.source;
        const planned = await client.post<{ baseRevision: number }>("/api/v1/config/plan", { source, file });
        await client.post("/api/v1/config/apply", { source, file, baseRevision: planned.baseRevision });
        output.out(
          `Applied ${options.file}: environments ${Object.keys(loaded.config.environments).join(", ")}; service web.`,
        );

        server.store.events.subscribe((e) => {
          const line = describeEvent(e);
          if (line !== undefined) output.out(`${c.dim(new Date(e.at).toISOString().slice(11, 19))} ${line}`);
        });
        const url = `http://${listen.host}:${listen.port}/`;
        output.out(`Sending ${RPS} requests/s to ${url} for the whole demo.\n`);

        // The bad release: the same service, with 30 % of its requests failing. Built outside the data
        // directory, which the release store refuses as an artifact source.
        cpSync(artifact, bad, { recursive: true });
        writeFileSync(join(bad, "faults.json"), JSON.stringify({ failRate: 0.3 }));

        const deploy = (version: string, dir: string) =>
          // A demo is not a release: it overrides the example's weekend freeze (the event log says so).
          client.post<{ rollout: Rollout }>("/api/v1/deploys", {
            service: "web",
            env: "production",
            version,
            artifact: dir,
            overrideFreeze: true,
          });

        const first = await deploy("v1", artifact);
        await waitForRollout(client, first.rollout.id, ["succeeded", "failed"]);
        const load = startTraffic(url);
        let caught: number | undefined;
        try {
          await sleep(2000);
          const good = await deploy("v2", artifact);
          const goodEnd = await waitForRollout(client, good.rollout.id, [
            "watching",
            "succeeded",
            "rolled-back",
            "failed",
          ]);
          if (goodEnd.status !== "watching" && goodEnd.status !== "succeeded") {
            output.err(c.red(`v2 was not promoted: ${goodEnd.reason ?? goodEnd.status}`));
          }
          await sleep(2000);
          const broken = await deploy("v3", bad);
          const badEnd = await waitForRollout(client, broken.rollout.id, [
            "watching",
            "succeeded",
            "rolled-back",
            "failed",
          ]);
          await sleep(1500);
          const firstBad = load.traffic.firstSeen.get("v3");
          const lastBad = load.traffic.lastSeen.get("v3");
          if (badEnd.status === "rolled-back" && firstBad !== undefined && lastBad !== undefined) {
            caught = (lastBad - firstBad) / 1000;
          }
        } finally {
          await load.stop();
        }
        summary(output, load.traffic, caught);
        if (options.keep === true) {
          output.out(`\nStill running: ${server.url} · router ${url} · Ctrl-C to stop.`);
          await new Promise((done) => {
            process.once("SIGINT", done);
            process.once("SIGTERM", done);
          });
        }
      } finally {
        await server?.stop();
        await agent?.stop();
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(bad, { recursive: true, force: true });
      }
    });
}
