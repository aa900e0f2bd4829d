/**
 * How a response body is delimited (RFC 9112 §6.3), and a tracker that finds where it ends in a
 * stream of chunks without copying or decoding them. Used for the one response the router reads on a
 * raw socket: a target's non-101 answer to an upgrade request, passed on verbatim and then closed.
 */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** Delimited by the close of the connection. */
  | { kind: "close" };

const SIZE = 0;
const EXTENSION = 1;
const DATA = 2;
const DATA_END = 3;
const LINE_START = 4;
const TRAILER = 5;
const LAST_LF = 6;
const ENDED = 7;

const CR = 13;
const LF = 10;
/** More hex digits than this is no chunk size a target would send: treated as the end (we close). */
const MAX_SIZE_DIGITS = 12;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 32;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/**
 * Finds the end of one body. `advance(chunk)` returns the index in `chunk` just past the body's last
 * byte, or -1 when the body goes on. Malformed chunked framing counts as the end of the body at the
 * bad byte: the caller closes the connection, so nothing after it is passed on.
 *
 * @example
 *   const end = new BodyEnd({ kind: "chunked" });
 *   end.advance(Buffer.from("3\r\nabc\r\n")); // -1
 *   end.advance(Buffer.from("0\r\n\r\nrest")); // 5
 */
export class BodyEnd {
  private state = ENDED;
  private remaining = 0;
  private digits = 0;
  private readonly chunked: boolean;

  constructor(framing: BodyFraming) {
    this.chunked = framing.kind === "chunked";
    switch (framing.kind) {
      case "none":
        break;
      case "length":
        this.remaining = framing.length;
        if (framing.length > 0) this.state = DATA;
        break;
      case "chunked":
        this.state = SIZE;
        break;
      case "close":
        this.remaining = Infinity;
        this.state = DATA;
        break;
      default: {
        const never: never = framing;
        throw new Error(`unknown framing ${String(never)}`);
      }
    }
  }

  /** True when the body ended before any byte (no body, or a zero length). */
  get done(): boolean {
    return this.state === ENDED;
  }

  advance(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === ENDED) return i;
      if (this.state === DATA) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = this.chunked ? DATA_END : ENDED;
        continue;
      }
      if (!this.step(chunk[i] ?? 0)) return i;
      i++;
    }
    return this.state === ENDED ? i : -1;
  }

  /** One byte of chunked framing; false when it is malformed (the body ends there). */
  private step(c: number): boolean {
    switch (this.state) {
      case SIZE: {
        const v = hexValue(c);
        if (v >= 0 && this.digits < MAX_SIZE_DIGITS) {
          this.remaining = this.remaining * 16 + v;
          this.digits++;
          return true;
        }
        if (this.digits === 0) return this.fail();
        if (c === LF) this.endSizeLine();
        else if (c === CR || c === 59 /* ; */ || c === 32 || c === 9) this.state = EXTENSION;
        else return this.fail();
        return true;
      }
      case EXTENSION:
        if (c === LF) this.endSizeLine();
        return true;
      case DATA_END:
        if (c === LF) {
          this.state = SIZE;
          this.digits = 0;
          this.remaining = 0;
        } else if (c !== CR) return this.fail();
        return true;
      case LINE_START:
        if (c === LF) this.state = ENDED;
        else this.state = c === CR ? LAST_LF : TRAILER;
        return true;
      case TRAILER:
        if (c === LF) this.state = LINE_START;
        return true;
      case LAST_LF:
        if (c !== LF) return this.fail();
        this.state = ENDED;
        return true;
      default:
        return this.fail();
    }
  }

  private endSizeLine(): void {
    this.state = this.remaining === 0 ? LINE_START : DATA;
  }

  private fail(): false {
    this.state = ENDED;
    return false;
  }
}
