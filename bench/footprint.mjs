// Footprint: cold start (process spawn → /readyz answers 200) and idle RSS, against a bare Node HTTP
// server measured the same way in the same run. Three Slipway shapes: `slipway server` alone, the node
// agent alone (`dist/agent/main.js`, ready when it prints its socket), and `slipway up` (control plane
// plus the agent it spawns as its own process; RSS is the two processes summed, as a host pays it).
// Run: npm run bench:footprint. Targets (PRODUCT.md): cold start ≤ 2 s, control plane + agent idle
// RSS ≤ 200 MB.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const AGENT = fileURLToPath(new URL("../dist/agent/main.js", import.meta.url));
const RUNS = Number(process.env.RUNS ?? 5);
const IDLE_MS = 3000;
const BARE = `require("node:http").createServer((q, s) => s.end("ok")).listen(0, "127.0.0.1", function () {
  console.log("http://127.0.0.1:" + this.address().port);
});`;

const rssMbOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Polls `check` every 2 ms until it returns a value, failing with the child's output if it exits. */
async function until(child, check, output) {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (child.exitCode !== null) throw new Error(output());
    await sleep(2);
  }
}

async function httpReady(url) {
  return fetch(url).then(
    (r) => (r.ok ? true : undefined),
    () => undefined,
  );
}

/**
 * Spawns `args(dir)`, waits until `ready(output, dir)` resolves (it may return the pid of a second
 * process that belongs to the measurement, e.g. the agent `slipway up` starts), then samples the RSS of
 * every process after IDLE_MS.
 */
async function measure(args, ready) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-"));
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args(dir), { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const extra = [];
  try {
    const pid = await ready(child, () => out, dir);
    if (pid !== undefined) extra.push(pid);
    const startMs = Number(process.hrtime.bigint() - started) / 1e6;
    await sleep(IDLE_MS);
    const perProcess = [child.pid, ...extra].map(rssMbOf);
    return { startMs, rssMb: perProcess.reduce((a, b) => a + b, 0), perProcess };
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    for (const pid of extra) {
      // The agent is detached (it outlives a killed `up` on purpose): SIGTERM it and wait.
      process.kill(pid, "SIGTERM");
      const deadline = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < deadline) await sleep(10);
      if (isAlive(pid)) process.kill(pid, "SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Ready when the printed http URL answers 200 on `path`. */
const printedUrlAnswers = (path) => async (child, output) => {
  const url = await until(child, () => /http:\/\/127\.0\.0\.1:\d+/.exec(output())?.[0], output);
  await until(child, () => httpReady(url + path), output);
  return undefined;
};

/** `slipway up`: the control plane answers /readyz, and the agent it started has written its pid. */
const upReady = async (child, output, dir) => {
  await printedUrlAnswers("/readyz")(child, output);
  const pidFile = join(dir, "data", "agent", "agent.pid");
  const pid = await until(
    child,
    () => (existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) || undefined : undefined),
    output,
  );
  return pid;
};

const agentReady = async (child, output) => {
  await until(child, () => (output().includes("listening on") ? true : undefined), output);
  return undefined;
};

const shapes = [
  { name: "bare node:http server", args: () => ["-e", BARE], ready: printedUrlAnswers("/") },
  {
    name: "slipway server (SQLite)",
    args: (dir) => [CLI, "server", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data")],
    ready: printedUrlAnswers("/readyz"),
  },
  {
    name: "node agent alone",
    args: (dir) => [AGENT, "--data-dir", join(dir, "data")],
    ready: agentReady,
  },
  {
    name: "slipway up (server+agent)",
    args: (dir) => [CLI, "up", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data")],
    ready: upReady,
  },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = new Map(shapes.map((s) => [s.name, []]));
for (let i = 0; i < RUNS; i++) {
  for (const shape of shapes) results.get(shape.name).push(await measure(shape.args, shape.ready));
}
const row = (name, runs) =>
  `${name.padEnd(27)} cold start ${median(runs.map((r) => r.startMs))
    .toFixed(0)
    .padStart(5)} ms   idle RSS ${median(runs.map((r) => r.rssMb))
    .toFixed(1)
    .padStart(6)} MB`;
console.log(`median of ${RUNS} runs (each a fresh process and a fresh SQLite store; idle ${IDLE_MS} ms)`);
for (const [name, runs] of results) console.log(row(name, runs));
const bareStart = median(results.get("bare node:http server").map((r) => r.startMs));
const serverStart = median(results.get("slipway server (SQLite)").map((r) => r.startMs));
console.log(
  `cold start ratio slipway server/bare: ${(serverStart / bareStart).toFixed(2)}x; ` +
    `targets: ≤ 2000 ms, ≤ 200 MB (slipway up: control plane + agent)`,
);
