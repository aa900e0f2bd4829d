import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** What `up` / `server` leave for the CLI: where the server is and a token for it (mode 0600). */
export interface ClientFile {
  server: string;
  token?: string | undefined;
}

export const CLIENT_FILE = "client.json";

export function readClientFile(dataDir: string): ClientFile | undefined {
  const path = join(dataDir, CLIENT_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<ClientFile>;
    return typeof parsed.server === "string" ? { server: parsed.server, token: parsed.token } : undefined;
  } catch {
    return undefined;
  }
}

export function writeClientFile(dataDir: string, file: ClientFile): string {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, CLIENT_FILE);
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
