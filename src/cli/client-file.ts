import { chmodSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { readRegularFileSync } from "../util/index.js";

/** What `up` / `server` leave for the CLI: where the server is and a token for it (mode 0600). */
export interface ClientFile {
  server: string;
  token?: string | undefined;
}

export const CLIENT_FILE = "client.json";

/** Far more than a URL and a token; a FIFO or a device in its place is not read at all. */
const MAX_CLIENT_FILE_BYTES = 64 * 1024;

export function readClientFile(dataDir: string): ClientFile | undefined {
  const read = readRegularFileSync(join(dataDir, CLIENT_FILE), MAX_CLIENT_FILE_BYTES);
  if (!read.ok) return undefined;
  try {
    const parsed = JSON.parse(read.bytes.toString("utf8")) as Partial<ClientFile> | null;
    return typeof parsed?.server === "string" ? { server: parsed.server, token: parsed.token } : undefined;
  } catch {
    return undefined;
  }
}

export function writeClientFile(dataDir: string, file: ClientFile): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, CLIENT_FILE);
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
