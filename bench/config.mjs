// Cost of checking slipway.yaml: `npm run bench:config`. For each worst file of its kind within the
// size limit (src/config/worst-cases.ts), the median CPU time of Slipway's whole check (parseConfig:
// YAML, schema, cross-references, issue collection) against the baseline measured in the same run: the
// YAML library's own parse of the same text with its defaults (`YAML.parseDocument`), what a tool that
// just reads YAML pays. Its default duplicate-key check is quadratic (Slipway turns it off and checks
// keys itself, linearly), so on files with many keys the ratio is below 1. The server runs this check on
// a worker thread (src/config/config-parser.ts). RUNS=5 for steadier medians.
import { performance } from "node:perf_hooks";
import YAML from "yaml";
import { MAX_CONFIG_BYTES, parseConfig } from "../dist/config/index.js";
import { WORST_CASES } from "../dist/config/worst-cases.js";

const RUNS = Number(process.env.RUNS ?? 3);

function cpuMs(run) {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function check(source) {
  try {
    parseConfig(source, "slipway.yaml");
  } catch {
    // A ConfigError is the expected answer for most of these files.
  }
}

const started = performance.now();
const rows = [];
for (const [name, build] of Object.entries(WORST_CASES)) {
  const source = build(MAX_CONFIG_BYTES);
  check(build(16 * 1024)); // warm the JIT on the same shapes
  YAML.parseDocument(build(16 * 1024));
  const slipway = median(Array.from({ length: RUNS }, () => cpuMs(() => check(source))));
  const yaml = median(Array.from({ length: RUNS }, () => cpuMs(() => YAML.parseDocument(source))));
  rows.push({ name, kib: Buffer.byteLength(source) / 1024, slipway, yaml });
}

const width = Math.max(...rows.map((r) => r.name.length));
const cell = (value, size) => value.padStart(size);
console.log(`config check, worst files within ${MAX_CONFIG_BYTES / 1024} KiB, median CPU of ${RUNS} runs`);
console.log(`${"case".padEnd(width)}    KiB  slipway ms  yaml ms  ratio`);
for (const r of rows) {
  const ratio = r.yaml > 0 ? (r.slipway / r.yaml).toFixed(1) : "-";
  const line = [
    r.name.padEnd(width),
    cell(r.kib.toFixed(0), 5),
    cell(r.slipway.toFixed(1), 10),
    cell(r.yaml.toFixed(1), 7),
    cell(ratio, 5),
  ];
  console.log(line.join("  "));
}
const worst = rows.reduce((a, b) => (b.slipway > a.slipway ? b : a));
const sum = (pick) => rows.reduce((total, r) => total + pick(r), 0);
const [slipway, yaml] = [sum((r) => r.slipway), sum((r) => r.yaml)];
console.log(`worst: ${worst.name}, ${worst.slipway.toFixed(0)} ms of CPU`);
console.log(
  `all cases: slipway ${slipway.toFixed(0)} ms, yaml alone ${yaml.toFixed(0)} ms, ratio ${(slipway / yaml).toFixed(1)}` +
    ` (bench took ${((performance.now() - started) / 1000).toFixed(1)} s)`,
);
