/**
 * Which modules a built entry point loads: runs it under an ESM loader hook that records every module
 * it resolves, plus the CommonJS modules in `require.cache` at exit (those a CommonJS package requires
 * never pass through the ESM hooks). For footprint tests: a process that loads less costs less memory
 * and starts sooner, and a test keeps it that way.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

/** Runs on the loader thread: appends each resolved URL to the trace file (sync: nothing is lost at exit). */
const HOOKS = `import { appendFileSync } from "node:fs";
let trace;
export function initialize(data) { trace = data.trace; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(trace, result.url + "\\n");
  return result;
}
`;

function registerScript(hooksUrl: string, trace: string): string {
  return `import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
const trace = ${JSON.stringify(trace)};
register(${JSON.stringify(hooksUrl)}, { data: { trace } });
const { cache } = createRequire(import.meta.url);
process.on("exit", () => {
  appendFileSync(trace, Object.keys(cache).map((path) => "cjs:" + path + "\\n").join(""));
});
`;
}

export interface LoadedModules {
  /** Absolute paths of every module loaded (Slipway's and packages'). */
  files: string[];
  /** The package names among them (`@scope/name` or `name`). */
  packages: Set<string>;
  /** What the process printed, for failure messages. */
  output: string;
}

/** A trace for a process a test starts itself: pass `nodeArgs` before the script; read it after the exit. */
export interface ModuleTrace {
  /** `--import <register>`: installs the hooks in the traced process. */
  nodeArgs: string[];
  /** Every module the process loaded (read once it has exited). */
  loaded(): Omit<LoadedModules, "output">;
  /** Removes the trace's files. */
  dispose(): void;
}

export function startModuleTrace(): ModuleTrace {
  const dir = mkdtempSync(join(tmpdir(), "slipway-loads-"));
  const trace = join(dir, "trace.txt");
  const hooks = join(dir, "hooks.mjs");
  const register = join(dir, "register.mjs");
  writeFileSync(trace, "");
  writeFileSync(hooks, HOOKS);
  writeFileSync(register, registerScript(pathToFileURL(hooks).href, trace));
  return {
    nodeArgs: ["--import", pathToFileURL(register).href],
    loaded() {
      const files = new Set<string>();
      for (const line of readFileSync(trace, "utf8").split("\n")) {
        if (line.startsWith("cjs:")) files.add(line.slice(4));
        else if (line.startsWith("file:")) files.add(fileURLToPath(line));
      }
      const packages = new Set<string>();
      for (const file of files) {
        const name = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
        if (name !== undefined) packages.add(name);
      }
      return { files: [...files], packages };
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `node <script> ...args` to its end and reports every module it loaded. */
export async function modulesLoadedBy(script: string, args: string[], cwd: string): Promise<LoadedModules> {
  const trace = startModuleTrace();
  try {
    const run = promisify(execFile)(process.execPath, [...trace.nodeArgs, script, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1" },
    });
    // A verb that fails (a server nobody runs) still loaded what it needed: its exit code is not the point.
    const output = await run.then(
      (r) => r.stdout + r.stderr,
      (e: unknown) => {
        const failed = e as { stdout?: string; stderr?: string };
        return `${failed.stdout ?? ""}${failed.stderr ?? ""}`;
      },
    );
    return { ...trace.loaded(), output };
  } finally {
    trace.dispose();
  }
}
