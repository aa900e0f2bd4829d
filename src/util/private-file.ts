/**
 * Small private files both the agent and the edge keep under the data directory: state, pid records,
 * bearer tokens. Written atomically (temp file, fsync, rename, fsync of the directory), mode 0600, so
 * after a crash or power loss a reader sees the old content or the new one, never half of each.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";

export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = join(path, "..");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  const file = await open(temp, "w", 0o600);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The secret in `path`, or a new random one `<prefix><43 chars>` written there (0600) first. */
export async function loadOrCreateSecret(path: string, prefix: string): Promise<string> {
  try {
    const secret = (await readFile(path, "utf8")).trim();
    if (secret.length >= 32) return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secret = `${prefix}${randomBytes(32).toString("base64url")}`;
  await writeFileAtomic(path, `${secret}\n`);
  return secret;
}
