// Footprint: cold start (process spawn → ready) and idle RSS, against a bare Node HTTP server measured
// the same way in the same run. Three Slipway shapes: `slipway server` alone, the node agent alone
// (`dist/agent/main.js`, ready when it prints its socket), and `slipway up` with the README's example
// applied (examples/shop/slipway.yaml, its routers moved to free ports): ready when /readyz answers and
// the config is applied. `up`'s RSS is the SUM of every process it runs, found as descendants of the
// `up` process in /proc (control plane, the agent, and whatever else appears there later, e.g. router
// processes), each also shown on its own, as a host pays it.
// Run: npm run bench:footprint. Targets (issue 10): `up` ready ≤ 2 s, idle RSS of all its processes
// ≤ 200 MB.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const AGENT = fileURLToPath(new URL("../dist/agent/main.js", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../examples/shop/slipway.yaml", import.meta.url));
const RUNS = Number(process.env.RUNS ?? 5);
const IDLE_MS = 3000;
// V8 shrinks a heap that grew during start-up only once the process has been quiet for a while (its
// memory reducer: about 20–40 s here) and the config parser's worker ends after 30 s idle, so `up` is
// sampled a second time after SETTLE_MS (0: skip).
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 60_000);
const BARE = `require("node:http").createServer((q, s) => s.end("ok")).listen(0, "127.0.0.1", function () {
  console.log("http://127.0.0.1:" + this.address().port);
});`;

const rssMbOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
/** Proportional set size: shared pages (the node binary, mapped by every process) split among sharers. */
const pssMbOf = (pid) =>
  Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))[1]) / 1024;

/** Parent pid from /proc/<pid>/stat (the field after the parenthesised name, which may hold spaces). */
const parentOf = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined; // gone meanwhile
  }
};

/** `root` and every live descendant of it, by walking the parent links of all of /proc. */
function processTree(root) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree = [];
  for (const queue = [root]; queue.length > 0;) {
    const pid = queue.shift();
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** A short label from the command line (display only; processes are found by parentage, not name). */
const labelOf = (pid) => {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const script = argv.find((a) => a.endsWith(".js"));
  return script === undefined
    ? argv.join(" ").slice(0, 30)
    : [script.split("/").slice(-2).join("/"), argv[argv.indexOf(script) + 1] ?? ""].join(" ").trim();
};

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

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

/** RSS of every process in the tree of `root`, each and summed, and the summed PSS. */
function sample(root) {
  const tree = processTree(root);
  const perProcess = tree.map((pid) => ({ label: labelOf(pid), rssMb: rssMbOf(pid) }));
  return {
    tree,
    rssMb: perProcess.reduce((a, p) => a + p.rssMb, 0),
    pssMb: tree.reduce((a, pid) => a + pssMbOf(pid), 0),
    perProcess,
  };
}

/**
 * Spawns `args(dir)` (after `prepare(dir)`), waits until `ready(child, output)` resolves, then after
 * IDLE_MS samples the RSS of the spawned process and of every descendant it has then (again after
 * `settleMs` when the shape asks for it).
 */
async function measure({ args, ready, prepare, settleMs = 0 }) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-"));
  if (prepare !== undefined) await prepare(dir);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args(dir), { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  let tree = [child.pid];
  try {
    await ready(child, () => out);
    const startMs = Number(process.hrtime.bigint() - started) / 1e6;
    await sleep(IDLE_MS);
    const idle = sample(child.pid);
    tree = idle.tree;
    if (settleMs <= 0) return { startMs, ...idle };
    await sleep(settleMs - IDLE_MS);
    const settled = sample(child.pid);
    tree = [...new Set([...tree, ...settled.tree])];
    return { startMs, ...idle, settled };
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    for (const pid of tree.slice(1).reverse()) {
      // The agent is detached (it outlives a killed `up` on purpose): SIGTERM it and wait.
      if (!isAlive(pid)) continue;
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
};

/** `slipway up`: the control plane answers /readyz and the example is applied. */
const upReady = async (child, output) => {
  await printedUrlAnswers("/readyz")(child, output);
  await until(child, () => (/Applied .* as revision/.test(output()) ? true : undefined), output);
};

const agentReady = async (child, output) => {
  await until(child, () => (output().includes("listening on") ? true : undefined), output);
};

/** The README's example, its routers on free ports so the bench never fights a running slipway. */
async function writeExample(dir) {
  let config = readFileSync(EXAMPLE, "utf8");
  for (const fixed of ["127.0.0.1:8080", "127.0.0.1:8081"]) {
    config = config.replace(fixed, `127.0.0.1:${await freePort()}`);
  }
  writeFileSync(join(dir, "slipway.yaml"), config);
}

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
    name: "slipway up + example",
    prepare: writeExample,
    settleMs: SETTLE_MS,
    args: (dir) => [CLI, "up", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data")],
    ready: upReady,
  },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = new Map(shapes.map((s) => [s.name, []]));
for (let i = 0; i < RUNS; i++) {
  for (const shape of shapes) results.get(shape.name).push(await measure(shape));
}
const mb = (xs) => median(xs).toFixed(1).padStart(6);
/** The median of each process's RSS, in tree order (control plane first, then what it started). */
const each = (samples) =>
  samples[0].perProcess.length < 2
    ? ""
    : `  = ${samples[0].perProcess
        .map((p, i) => `${p.label} ${median(samples.map((s) => s.perProcess[i]?.rssMb ?? 0)).toFixed(1)}`)
        .join(" + ")}`;
const row = (name, runs) => {
  const lines = [
    `${name.padEnd(24)} ready ${median(runs.map((r) => r.startMs))
      .toFixed(0)
      .padStart(5)} ms   idle RSS ${mb(runs.map((r) => r.rssMb))} MB (PSS ${mb(runs.map((r) => r.pssMb))})` +
      each(runs),
  ];
  const settled = runs.map((r) => r.settled).filter((s) => s !== undefined);
  if (settled.length > 0) {
    lines.push(
      `${"".padEnd(24)} after ${(SETTLE_MS / 1000).toFixed(0).padStart(3)} s idle:  RSS ${mb(settled.map((s) => s.rssMb))} MB (PSS ${mb(settled.map((s) => s.pssMb))})` +
        each(settled),
    );
  }
  return lines.join("\n");
};
console.log(`median of ${RUNS} runs (each a fresh process and a fresh SQLite store; idle ${IDLE_MS} ms)`);
for (const [name, runs] of results) console.log(row(name, runs));
const bareStart = median(results.get("bare node:http server").map((r) => r.startMs));
const serverStart = median(results.get("slipway server (SQLite)").map((r) => r.startMs));
console.log(
  `cold start ratio slipway server/bare: ${(serverStart / bareStart).toFixed(2)}x; ` +
    `targets: up ready ≤ 2000 ms, up idle RSS (all its processes) ≤ 200 MB`,
);
