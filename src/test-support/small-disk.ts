/**
 * A small, real file system for disk-full tests: a tmpfs of a few MiB mounted on a fresh directory,
 * filled to the last page and freed again on demand. Mounting needs root (CI runs tests as root);
 * `smallDiskSkipReason()` tells a test why it cannot run elsewhere, so the gap shows in the report.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let probed: string | null | undefined;

/** Why a small disk cannot be mounted here (not root, no mount permission), or undefined when it can. */
export function smallDiskSkipReason(): string | undefined {
  if (probed !== undefined) return probed ?? undefined;
  if (process.getuid?.() !== 0) {
    probed = "skipped: mounting a small tmpfs needs root (CI runs as root)";
    return probed;
  }
  try {
    SmallDisk.mount(1).unmount();
    probed = null;
  } catch (err) {
    probed = `skipped: cannot mount a tmpfs here (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`;
  }
  return probed ?? undefined;
}

export class SmallDisk {
  readonly #filler: string;
  #mounted = true;

  private constructor(readonly dir: string) {
    this.#filler = join(dir, ".filler");
  }

  /** Mounts a tmpfs of `sizeMiB` on a new directory under the system temp dir. */
  static mount(sizeMiB: number): SmallDisk {
    const dir = mkdtempSync(join(tmpdir(), "slipway-small-disk-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m,mode=0755`, "tmpfs", dir], {
        stdio: "pipe",
      });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`mount -t tmpfs failed: ${stderr ?? String(err)}`);
    }
    return new SmallDisk(dir);
  }

  /** Writes a filler file until the file system refuses even one more page (ENOSPC); returns its size. */
  fill(): number {
    const fd = openSync(this.#filler, "a");
    let bytes = 0;
    try {
      // Big chunks first, then single pages: a big write fails while a page may still fit.
      for (const size of [256 * 1024, 4096, 512]) {
        const chunk = Buffer.alloc(size, 0x5a);
        for (;;) {
          try {
            bytes += writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
            break;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return bytes;
  }

  /** Removes the filler: the space is back. */
  free(): void {
    rmSync(this.#filler, { force: true });
  }

  /** Unmounts (lazily, so a process still holding a file there cannot make it fail) and removes the directory. */
  unmount(): void {
    if (!this.#mounted) return;
    execFileSync("umount", ["-l", this.dir], { stdio: "pipe" });
    this.#mounted = false;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
