// Control-plane footprint: cold start (process spawn → /readyz answers 200) and idle RSS, against a
// bare Node HTTP server measured the same way in the same run. Run: npm run bench:footprint
// Targets (PRODUCT.md): cold start ≤ 2 s, control plane + agent idle RSS ≤ 200 MB.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const RUNS = Number(process.env.RUNS ?? 5);
const BARE = `require("node:http").createServer((q, s) => s.end("ok")).listen(0, "127.0.0.1", function () {
  console.log("http://127.0.0.1:" + this.address().port);
});`;

/** Spawns, polls the printed URL's /readyz (or /) until 200, then samples RSS after `idleMs`. */
async function measure(args, pathToPoll, idleMs = 3000) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-"));
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args(dir), { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  try {
    let url;
    while (!(url = /http:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0])) {
      if (child.exitCode !== null) throw new Error(out);
      await sleep(2);
    }
    for (;;) {
      const ok = await fetch(url + pathToPoll).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(2);
    }
    const startMs = Number(process.hrtime.bigint() - started) / 1e6;
    await sleep(idleMs);
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
    return { startMs, rssMb };
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const slipway = [];
const bare = [];
for (let i = 0; i < RUNS; i++) {
  bare.push(await measure(() => ["-e", BARE], "/"));
  slipway.push(
    await measure(
      (dir) => [CLI, "server", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data")],
      "/readyz",
    ),
  );
}
const row = (name, runs) =>
  `${name.padEnd(26)} cold start ${median(runs.map((r) => r.startMs))
    .toFixed(0)
    .padStart(5)} ms   idle RSS ${median(runs.map((r) => r.rssMb))
    .toFixed(1)
    .padStart(6)} MB`;
console.log(`median of ${RUNS} runs (each a fresh process and a fresh SQLite store)`);
console.log(row("bare node:http server", bare));
console.log(row("slipway server (SQLite)", slipway));
const ratio = median(slipway.map((r) => r.startMs)) / median(bare.map((r) => r.startMs));
console.log(
  `cold start ratio slipway/bare: ${ratio.toFixed(2)}x; targets: ≤ 2000 ms, ≤ 200 MB (with the agent)`,
);
