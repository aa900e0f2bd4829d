import { readFileSync } from "node:fs";

/** The package's version, as the running code sees it (read at start; an upgrade forks new code). */
export function edgeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
