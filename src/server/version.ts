/**
 * Slipway's version, read from package.json. Its own file so that `slipway --version` and every CLI verb
 * can ask for it without loading the control plane (see index.ts: this domain's door stays light).
 */
import { readFileSync } from "node:fs";

export function slipwayVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
