/**
 * Reading a file a person names (slipway.yaml, a saved plan) without trusting what it is: only a regular
 * file, and only up to a limit. A FIFO would block the reader until someone writes to it and `/dev/zero`
 * never ends, so the file is opened without blocking, checked with `fstat` on the opened descriptor (not
 * the path, which may be swapped in between), and read with a bound, since a file may grow after `fstat`.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { open } from "node:fs/promises";

export type ReadFailure =
  | { reason: "missing" }
  | { reason: "directory" }
  | { reason: "not-regular"; kind: string }
  | { reason: "permission" }
  | { reason: "too-large"; size: number }
  | { reason: "other"; code: string };

export type ReadResult = { ok: true; bytes: Buffer } | { ok: false; failure: ReadFailure };

// O_NONBLOCK: opening a FIFO that has no writer returns at once (and fstat refuses it) instead of
// waiting forever. It changes nothing for regular files.
const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function openFailure(error: unknown): ReadFailure {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return { reason: "missing" };
    case "EISDIR":
      return { reason: "directory" };
    case "EACCES":
    case "EPERM":
      return { reason: "permission" };
    case "ENXIO": // a Unix socket, or a device with nothing behind it
      return { reason: "not-regular", kind: "a socket or a device" };
    default:
      return { reason: "other", code: code ?? (error instanceof Error ? error.message : String(error)) };
  }
}

/** Why `stat` is not a readable file of at most `maxBytes`, or undefined when it is. */
function statFailure(stat: Stats, maxBytes: number): ReadFailure | undefined {
  if (stat.isDirectory()) return { reason: "directory" };
  if (!stat.isFile()) {
    const kind = stat.isFIFO()
      ? "a named pipe (FIFO)"
      : stat.isCharacterDevice() || stat.isBlockDevice()
        ? "a device"
        : stat.isSocket()
          ? "a socket"
          : "a special file";
    return { reason: "not-regular", kind };
  }
  if (stat.size > maxBytes) return { reason: "too-large", size: stat.size };
  return undefined;
}

/**
 * The buffer to read into next: `buffer` while it has room, else one twice as large but never more than
 * one byte over the limit (that byte tells a file that grew past the limit from one that did not), or
 * undefined when reading is done. Sized from fstat first; files in /proc say 0 and still have content.
 */
function room(buffer: Buffer, length: number, maxBytes: number): Buffer | undefined {
  if (length < buffer.length) return buffer;
  if (buffer.length > maxBytes) return undefined;
  const bigger = Buffer.alloc(Math.min(buffer.length * 2, maxBytes + 1));
  buffer.copy(bigger, 0, 0, length);
  return bigger;
}

function result(buffer: Buffer, length: number, maxBytes: number): ReadResult {
  if (length > maxBytes) return { ok: false, failure: { reason: "too-large", size: length } };
  return { ok: true, bytes: buffer.subarray(0, length) };
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them, or why not.
 *
 * @example
 *   const read = await readRegularFile("slipway.yaml", 512 * 1024);
 *   if (!read.ok) console.log(read.failure.reason); // "missing", "not-regular", "too-large", …
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<ReadResult> {
  let handle;
  try {
    handle = await open(path, FLAGS);
  } catch (error) {
    return { ok: false, failure: openFailure(error) };
  }
  try {
    const stat = await handle.stat();
    const failure = statFailure(stat, maxBytes);
    if (failure) return { ok: false, failure };
    let buffer: Buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (
      let into = room(buffer, length, maxBytes);
      into !== undefined;
      into = room(buffer, length, maxBytes)
    ) {
      buffer = into;
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return result(buffer, length, maxBytes);
  } catch (error) {
    return { ok: false, failure: openFailure(error) };
  } finally {
    await handle.close();
  }
}

/** {@link readRegularFile} for the few places that must stay synchronous (the CLI's client file). */
export function readRegularFileSync(path: string, maxBytes: number): ReadResult {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (error) {
    return { ok: false, failure: openFailure(error) };
  }
  try {
    const stat = fstatSync(fd);
    const failure = statFailure(stat, maxBytes);
    if (failure) return { ok: false, failure };
    let buffer: Buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (
      let into = room(buffer, length, maxBytes);
      into !== undefined;
      into = room(buffer, length, maxBytes)
    ) {
      buffer = into;
      const bytesRead = readSync(fd, buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return result(buffer, length, maxBytes);
  } catch (error) {
    return { ok: false, failure: openFailure(error) };
  } finally {
    closeSync(fd);
  }
}
