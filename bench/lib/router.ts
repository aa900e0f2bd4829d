/**
 * Router benchmark (issue 3), run by bench/router.ts (`npm run bench:router`).
 *
 * Two backends (plain node:http) and the router each run in their own child process; autocannon and
 * the latency probe run here. Measured side by side in one run, at fixed concurrency, all on
 * 127.0.0.1: a direct connection to one backend, the router splitting 50/50 across two releases, and
 * nginx with the same split when installed. Ratios matter, not absolute numbers.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import autocannon from "autocannon";
import hdr from "hdr-histogram-js";
import { Client } from "undici";

import { findFreePort } from "../../src/util/ports.js";
import { NGINX_BIN, type Nginx, startNginx } from "./router-nginx.js";
import type { ParentMessage, WorkerMessage } from "./router-worker.js";

export interface BenchOptions {
  connections: number;
  durationSeconds: number;
  latencySeconds: number;
  warmupSeconds: number;
}

export const DEFAULT_BENCH_OPTIONS: BenchOptions = {
  connections: 32,
  durationSeconds: 10,
  latencySeconds: 5,
  warmupSeconds: 2,
};

interface LoadResult {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  failures: number;
}

interface LatencyResult {
  p50us: number;
  p99us: number;
  count: number;
}

const workerPath = fileURLToPath(new URL("./router-worker.js", import.meta.url));

class Worker {
  private constructor(readonly child: ChildProcess) {}

  static async start(
    role: "backend" | "router",
    first?: ParentMessage,
  ): Promise<{ worker: Worker; port: number }> {
    const child = fork(workerPath, [role], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    // A send racing the child's death reports EPIPE here; the exit handling below covers it.
    child.on("error", () => undefined);
    const worker = new Worker(child);
    if (first !== undefined) child.send(first);
    const ready = await worker.next("ready");
    return { worker, port: ready.type === "ready" ? ready.port : 0 };
  }

  next(type: WorkerMessage["type"]): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.type !== type) return;
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
        resolve(m);
      };
      const onExit = (code: number | null) => {
        reject(new Error(`bench worker exited (${code})`));
      };
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
    });
  }

  /** CPU time (µs) the child has used so far. */
  async cpuMicros(): Promise<number> {
    return (await this.usage()).cpuMicros;
  }

  /** CPU time (µs) used so far, and the resident set size (bytes) now. */
  async usage(): Promise<{ cpuMicros: number; rss: number }> {
    const reply = this.next("cpu");
    this.child.send({ type: "cpu" } satisfies ParentMessage);
    const m = await reply;
    return m.type === "cpu" ? { cpuMicros: m.user + m.system, rss: m.rss } : { cpuMicros: 0, rss: 0 };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) =>
      this.child.once("exit", () => {
        resolve();
      }),
    );
    // After a Ctrl-C the child got SIGINT too and may be gone already: no channel left to send on.
    if (this.child.connected) this.child.send({ type: "stop" } satisfies ParentMessage);
    else this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function load(url: string, connections: number, seconds: number): Promise<LoadResult> {
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1, timeout: 10 });
  return {
    rps: r.requests.total / r.duration,
    total: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    failures: r.errors + r.timeouts + r.non2xx,
  };
}

/**
 * One keep-alive connection per target, one request at a time: the latency a proxy adds, not
 * queueing. Targets take turns in 500 ms blocks (the first 50 ms of each not recorded): back to back
 * within a block, as on a busy idle connection, while background noise on the machine is spread over
 * all targets instead of hitting whichever ran during a bad second. (Alternating request by request
 * was tried: every process then sleeps between its requests and all figures double.)
 */
async function probeLatencies(urls: string[], seconds: number): Promise<LatencyResult[]> {
  const clients = urls.map((url) => new Client(url, { pipelining: 1 }));
  const histograms = urls.map(() =>
    hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 10_000_000,
      numberOfSignificantValueDigits: 3,
    }),
  );
  try {
    for (let block = 0; block < seconds * 2; block++) {
      for (const [i, client] of clients.entries()) {
        const blockStart = performance.now();
        const recordFrom = blockStart + 50;
        const blockEnd = blockStart + 500;
        for (let started = blockStart; started < blockEnd; started = performance.now()) {
          const res = await client.request({ path: "/", method: "GET" });
          await res.body.dump();
          const us = Math.round((performance.now() - started) * 1000);
          if (started >= recordFrom) histograms[i]?.recordValue(Math.max(1, us));
        }
      }
    }
    return histograms.map((h) => ({
      p50us: h.getValueAtPercentile(50),
      p99us: h.getValueAtPercentile(99),
      count: h.totalCount,
    }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Signed, so a negative difference (noise) reads as such instead of "+-0.2". */
function signed(n: number, digits: number): string {
  return `${n >= 0 ? "+" : "−"}${fmt(Math.abs(n), digits)}`;
}

function loadLine(name: string, r: LoadResult): string {
  return `  ${name.padEnd(22)} ${fmt(r.rps).padStart(9)} req/s   p50 ${fmt(r.p50, 1).padStart(5)} ms   p99 ${fmt(r.p99, 1).padStart(5)} ms   failed ${r.failures}`;
}

function latencyLine(name: string, r: LatencyResult, direct?: LatencyResult): string {
  const added =
    direct === undefined
      ? ""
      : `   added p50 ${signed((r.p50us - direct.p50us) / 1000, 3)} ms, p99 ${signed((r.p99us - direct.p99us) / 1000, 3)} ms`;
  return `  ${name.padEnd(22)} p50 ${fmt(r.p50us).padStart(5)} µs   p99 ${fmt(r.p99us).padStart(5)} µs   (${fmt(r.count)} requests)${added}`;
}

interface Fleet {
  targets: { name: string; url: string }[];
  router: Worker;
  nginx: Nginx | undefined;
}

/** Two backends, the router splitting 50/50 between them, and nginx with the same split. */
async function startFleet(started: { stop(): Promise<void> }[]): Promise<Fleet> {
  const a = await Worker.start("backend");
  started.push(a.worker);
  const b = await Worker.start("backend");
  started.push(b.worker);
  const release = (name: string, port: number) => ({
    name,
    weight: 50,
    targets: [{ id: name, host: "127.0.0.1", port }],
  });
  const table = {
    services: [
      { name: "bench", pathPrefix: "/", releases: [release("stable", a.port), release("canary", b.port)] },
    ],
  };
  const router = await Worker.start("router", { type: "routes", table });
  started.push(router.worker);
  const nginx = await startNginx(await findFreePort(), [
    { port: a.port, weight: 50 },
    { port: b.port, weight: 50 },
  ]);
  if (nginx !== undefined) started.push(nginx);
  const targets = [
    { name: "direct (1 backend)", url: `http://127.0.0.1:${a.port}/` },
    { name: "router (50/50)", url: `http://127.0.0.1:${router.port}/` },
  ];
  if (nginx !== undefined) targets.push({ name: "nginx (50/50)", url: `http://127.0.0.1:${nginx.port}/` });
  return { targets, router: router.worker, nginx };
}

async function measureThroughput(fleet: Fleet, options: BenchOptions): Promise<void> {
  for (const t of fleet.targets) await load(t.url, options.connections, options.warmupSeconds);
  const results = new Map<string, LoadResult>();
  let routerCpu = 0;
  let nginxCpu = 0;
  for (const t of fleet.targets) {
    const routerBefore = await fleet.router.cpuMicros();
    const nginxBefore = fleet.nginx?.cpuMicros() ?? 0;
    const r = await load(t.url, options.connections, options.durationSeconds);
    if (t.name.startsWith("router")) routerCpu = ((await fleet.router.cpuMicros()) - routerBefore) / r.total;
    if (t.name.startsWith("nginx")) nginxCpu = ((fleet.nginx?.cpuMicros() ?? 0) - nginxBefore) / r.total;
    results.set(t.name, r);
    console.log(loadLine(t.name, r));
  }
  printRatios(results, routerCpu, nginxCpu);
  const { rss } = await fleet.router.usage();
  console.log(`  router process RSS after the runs: ${fmt(rss / 1024 / 1024)} MB`);
}

async function measureLatency(fleet: Fleet, seconds: number): Promise<void> {
  const total = seconds * fleet.targets.length;
  console.log(
    `Single connection each, sequential requests, targets taking turns in 0.5 s blocks, ${total} s:`,
  );
  const latencies = await probeLatencies(
    fleet.targets.map((t) => t.url),
    seconds,
  );
  const [direct, viaRouter] = latencies;
  fleet.targets.forEach((t, i) => {
    const r = latencies[i];
    if (r !== undefined) console.log(latencyLine(t.name, r, i === 0 ? undefined : direct));
  });
  if (direct !== undefined && viaRouter !== undefined) {
    const added = (viaRouter.p99us - direct.p99us) / 1000;
    console.log(`  p99 added by the router: ${signed(added, 3)} ms (target ≤ 0.2)`);
  }
}

/** Jiffies of the whole machine from /proc/stat: [busy, steal, total]; undefined off Linux. */
function machineTimes(): [number, number, number] | undefined {
  if (!existsSync("/proc/stat")) return undefined;
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const busy = user + nice + system + irq + softirq;
  return [busy, steal, busy + idle + iowait + steal];
}

/** Other tenants of a VM show up as steal time; absolute figures mean little when it is high. */
function printMachineLoad(before: [number, number, number] | undefined): void {
  const after = machineTimes();
  if (before === undefined || after === undefined) return;
  const total = after[2] - before[2] || 1;
  const pct = (i: 0 | 1) => fmt(((after[i] - before[i]) / total) * 100);
  console.log(`Machine during the run: busy ${pct(0)} %, stolen by the hypervisor ${pct(1)} %`);
}

export async function runRouterBenchmark(options: BenchOptions = DEFAULT_BENCH_OPTIONS): Promise<void> {
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    // Last started first, so nothing is left running even when a step threw.
    for (const s of started.splice(0).reverse()) await s.stop();
  };
  // Ctrl-C must not leave nginx or a backend behind.
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const fleet = await startFleet(started);
    console.log(
      `Router benchmark: ${options.connections} connections, ${options.durationSeconds} s per run, ` +
        `tiny response, Node ${process.version}`,
    );
    if (fleet.nginx === undefined)
      console.log(`nginx not installed: apt-get install nginx (${NGINX_BIN} missing)`);
    const before = machineTimes();
    await measureThroughput(fleet, options);
    await measureLatency(fleet, options.latencySeconds);
    printMachineLoad(before);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stopAll();
  }
}

function printRatios(results: Map<string, LoadResult>, routerCpu: number, nginxCpu: number): void {
  const direct = results.get("direct (1 backend)");
  const router = results.get("router (50/50)");
  const nginx = results.get("nginx (50/50)");
  if (direct === undefined || router === undefined) return;
  let line = `  router/direct ${fmt(router.rps / direct.rps, 2)}`;
  if (nginx !== undefined) {
    line += `   nginx/direct ${fmt(nginx.rps / direct.rps, 2)}   router/nginx ${fmt(router.rps / nginx.rps, 2)} (target ≥ 0.5)`;
  }
  console.log(line);
  console.log(
    `  added under load vs direct: p50 ${signed(router.p50 - direct.p50, 1)} ms, ` +
      `p99 ${signed(router.p99 - direct.p99, 1)} ms (autocannon resolution: 1 ms)`,
  );
  let cpu = `  CPU per proxied request: router ${fmt(routerCpu, 1)} µs (target ≤ 40)`;
  if (nginx !== undefined) cpu += `, nginx ${fmt(nginxCpu, 1)} µs (master + worker, 10 ms tick)`;
  console.log(cpu);
}
