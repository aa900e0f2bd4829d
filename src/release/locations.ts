/**
 * Where an artifact may not come from. Pure: it works on paths already resolved (`realpath`), so a
 * symlink or a `..` cannot lead around it; the caller resolves first.
 *
 * Refused, each for its own reason:
 * - kernel and system trees, with everything inside them: `/proc`, `/sys` and `/dev` hold files that
 *   never end or block (`/dev/zero`, a FIFO), `/run` sockets, `/etc` and `/boot` the machine's secrets
 *   and kernel; the system's programs and libraries are not a service's build output either;
 * - the root and the large shared trees themselves (`/`, `/usr`, `/home`, …): a directory inside them
 *   is fine (`/home/me/app/dist`, `/usr/local/src/app/build`), the whole tree is never an artifact;
 * - the data directory, anything inside it (tokens, the database, the agent's socket, the releases
 *   themselves) and anything containing it, except the pipeline artifact store, which holds copies of
 *   workspace paths that deploy steps release (src/pipeline/artifacts.ts).
 */
import { posix } from "node:path";

/** Refused together with everything inside them. */
export const SYSTEM_TREES: readonly string[] = [
  "/proc",
  "/sys",
  "/dev",
  "/run",
  "/etc",
  "/boot",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/lib32",
  "/usr/lib64",
  "/usr/libexec",
  "/var/run",
  "/var/lock",
  // macOS names for the same things.
  "/private/etc",
  "/private/var/run",
  "/System",
];

/** Refused themselves; a directory inside them may be an artifact. */
export const SHARED_ROOTS: readonly string[] = [
  "/",
  "/usr",
  "/usr/local",
  "/usr/share",
  "/home",
  "/root",
  "/var",
  "/var/lib",
  "/var/tmp",
  "/tmp",
  "/opt",
  "/srv",
  "/mnt",
  "/media",
  "/private",
  "/Users",
  "/Volumes",
];

/** Inside the data directory, the only place an artifact may come from. */
export const DATA_DIR_ALLOWED = "pipelines/artifacts";

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/**
 * Why an artifact at `root` is refused, or undefined when it may be used. Both paths are absolute and
 * resolved (no symlinks, no `.` or `..`).
 *
 * @example
 *   refusedLocation("/proc/self/fdinfo", "/srv/app/.slipway") // "/proc/self/fdinfo is inside /proc, …"
 */
export function refusedLocation(root: string, dataDir: string): string | undefined {
  const path = posix.normalize(root);
  const data = posix.normalize(dataDir);
  const tree = SYSTEM_TREES.find((t) => within(path, t));
  if (tree !== undefined) {
    return `${path} is inside ${tree}, a system tree; an artifact is the directory your build produced`;
  }
  if (SHARED_ROOTS.includes(path)) {
    return `${path} is a whole system directory, not a build's output`;
  }
  if (within(data, path)) {
    return path === data
      ? `${path} is Slipway's data directory`
      : `${path} contains Slipway's data directory ${data}`;
  }
  if (within(path, data) && !within(path, posix.join(data, DATA_DIR_ALLOWED))) {
    return `${path} is inside Slipway's data directory ${data}`;
  }
  if (path === posix.join(data, DATA_DIR_ALLOWED)) {
    return `${path} is the pipeline artifact store itself, not one artifact`;
  }
  return undefined;
}
