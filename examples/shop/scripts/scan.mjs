// A small security scan for the example pipeline: no credentials committed in the sources. It looks
// for the shapes real scanners look for first (private keys, AWS and GitHub tokens, passwords in
// URLs) and fails with file:line for each hit.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const PATTERNS = [
  ["private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["AWS access key", /\bAKIA[0-9A-Z]{16}\b/],
  ["GitHub token", /\bgh[pousr]_[A-Za-z0-9]{36,}\b/],
  ["password in a URL", /[a-z]+:\/\/[^/\s:@]+:[^/\s:@]+@/i],
];
const root = process.argv[2] ?? ".";
let hits = 0;
let files = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === ".git" || name === "coverage" || name === "reports") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else scan(path);
  }
}
function scan(path) {
  files += 1;
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((line, index) => {
      for (const [what, pattern] of PATTERNS) {
        if (pattern.test(line)) {
          hits += 1;
          console.error(`${relative(".", path)}:${index + 1}: ${what}`);
        }
      }
    });
}
walk(root);
console.log(`scanned ${files} files: ${hits === 0 ? "no secrets found" : `${hits} findings`}`);
process.exit(hits === 0 ? 0 : 1);
