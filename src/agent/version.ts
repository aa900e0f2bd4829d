import { readFileSync } from "node:fs";

/** The package's version; read once per call, which happens only for `GET /v1/state`. */
export function agentVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
