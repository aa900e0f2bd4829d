/**
 * A strict, incremental HTTP/1.1 response parser for the router's own upstream client (one request at
 * a time per connection, no pipelining). Why our own: undici's dispatch cost more CPU per proxied
 * request than all the rest of the router (docs/router.md, "Benchmark"), and a proxy must refuse,
 * not guess at, a response whose framing two parsers could read differently (request smuggling,
 * response splitting). So everything ambiguous is an error here: obs-fold, bare LF or CR, control
 * characters, a space before a header's colon, Content-Length with Transfer-Encoding, two different
 * Content-Lengths, any Transfer-Encoding but one `chunked`, a chunk size that is not plain hex.
 *
 * Body bytes are never copied: `onBody` gets slices of the chunks the socket read.
 */

import { TOKEN, VALUE, equalsLower, hexValue, parseDigits } from "./http-syntax.js";

/** What the parser reports to its owner (the connection). */
export interface ResponseSink {
  /** The final response head; `headers` is flat `[name, value, …]` in latin1, as sent. False: stop. */
  onHead(status: number, headers: string[]): boolean;
  /** A slice of the body (never copied). False: stop (the owner aborted the response). */
  onBody(chunk: Buffer): boolean;
}

/** `execute` returned before the response ended: feed more bytes. */
export const MORE = -1;
/** The response is malformed (`error` says why): the connection must be closed, never reused. */
export const FAILED = -2;
/** The sink asked to stop. */
export const STOPPED = -3;

/** Largest response head (status line and headers), and largest trailer section. */
export const MAX_HEAD_BYTES = 64 * 1024;
export const MAX_HEADERS = 512;
/** 1xx answers skipped before the final one; more is a target stalling with interim answers. */
const MAX_INTERIM = 16;
/** A chunk-size line with extensions; far above anything a real server sends. */
const MAX_CHUNK_LINE = 4 * 1024;
/** 12 hex digits: 256 TB, more than any chunk; a longer size is refused rather than overflowed. */
const MAX_SIZE_DIGITS = 12;

const STATUS_LINE = 0;
const HEADER_LINE = 1;
const BODY_LENGTH = 2;
const BODY_CLOSE = 3;
const CHUNK_SIZE = 4;
const CHUNK_DATA = 5;
const CHUNK_CR = 6;
const CHUNK_LF = 7;
const TRAILER_LINE = 8;
const DONE = 9;
const ERROR = 10;

const CR = 13;
const LF = 10;

/**
 * Parses one response after another on a connection: `reset` before each request, then `execute`
 * with every chunk read, and `finish` when the target closes its side.
 *
 * @example
 *   const parser = new ResponseParser(sink);
 *   parser.reset(false);
 *   const end = parser.execute(chunk); // MORE, FAILED, STOPPED, or the index just past the response
 */
export class ResponseParser {
  /** Why the response was refused (for the log), once `execute` returned FAILED. */
  error = "";
  /** Whether the connection may carry another request once this response has ended. */
  keepAlive = true;
  private state = STATUS_LINE;
  private noBody = false;
  private status = 0;
  private http10 = false;
  private headers: string[] = [];
  private headBytes = 0;
  private interim = 0;
  private contentLength = -1;
  private chunked = false;
  private connectionClose = false;
  private connectionKeepAlive = false;
  private remaining = 0;
  /** Pieces of a line split across chunks (slices, not copies, until the line is complete). */
  private parts: Buffer[] = [];
  private partLength = 0;

  constructor(private readonly sink: ResponseSink) {}

  /** Readies the parser for the response to one request; `noBody` for a HEAD request. */
  reset(noBody: boolean): void {
    this.state = STATUS_LINE;
    this.noBody = noBody;
    this.keepAlive = true;
    this.interim = 0;
    this.error = "";
    this.startHead();
  }

  /** True once the response has ended (its last byte was parsed). */
  get done(): boolean {
    return this.state === DONE;
  }

  /**
   * Parses `chunk`: MORE when the response goes on, the index just past its end when it ended (bytes
   * after it are the caller's problem: there is no pipelining, so they are a protocol violation),
   * FAILED or STOPPED.
   */
  execute(chunk: Buffer): number {
    let pos = 0;
    const length = chunk.length;
    while (pos < length) {
      switch (this.state) {
        case BODY_LENGTH:
        case CHUNK_DATA:
        case BODY_CLOSE: {
          const take = Math.min(this.remaining, length - pos);
          const slice = pos === 0 && take === length ? chunk : chunk.subarray(pos, pos + take);
          pos += take;
          if (this.state !== BODY_CLOSE) this.remaining -= take;
          if (this.remaining === 0) this.state = this.state === CHUNK_DATA ? CHUNK_CR : DONE;
          if (!this.sink.onBody(slice)) return STOPPED;
          break;
        }
        case CHUNK_CR:
          if (chunk[pos++] !== CR) return this.fail("a chunk not followed by CRLF");
          this.state = CHUNK_LF;
          break;
        case CHUNK_LF:
          if (chunk[pos++] !== LF) return this.fail("a chunk not followed by CRLF");
          this.state = CHUNK_SIZE;
          break;
        case DONE:
          return pos;
        case ERROR:
          return FAILED;
        default: {
          const next = this.readLine(chunk, pos);
          if (next < 0) return next;
          pos = next;
        }
      }
    }
    if (this.state === DONE) return pos;
    return this.state === ERROR ? FAILED : MORE;
  }

  /**
   * The target closed its side: true when that ends the response (a body delimited by the close),
   * false when the response was cut short (or never came).
   */
  finish(): boolean {
    if (this.state === BODY_CLOSE) {
      this.state = DONE;
      return true;
    }
    return this.state === DONE;
  }

  /** Reads one line of a line-based state; returns the position after it, MORE, FAILED or STOPPED. */
  private readLine(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(LF, pos);
    const cap = this.state === CHUNK_SIZE ? MAX_CHUNK_LINE : MAX_HEAD_BYTES - this.headBytes;
    if (lf < 0) {
      this.parts.push(pos === 0 ? chunk : chunk.subarray(pos));
      this.partLength += chunk.length - pos;
      if (this.partLength > cap) return this.fail("a response head or chunk line over the limit");
      return MORE;
    }
    let buf = chunk;
    let start = pos;
    let end = lf;
    if (this.parts.length > 0) {
      this.parts.push(chunk.subarray(pos, lf));
      buf = Buffer.concat(this.parts, this.partLength + lf - pos);
      start = 0;
      end = buf.length;
      this.parts = [];
      this.partLength = 0;
    }
    if (end - start + 1 > cap) return this.fail("a response head or chunk line over the limit");
    if (end === start || buf[end - 1] !== CR) return this.fail("a line ending in a bare LF");
    end--;
    const result = this.onLine(buf, start, end, end - start + 2);
    return result < 0 ? result : lf + 1;
  }

  private onLine(buf: Buffer, start: number, end: number, bytes: number): number {
    switch (this.state) {
      case STATUS_LINE:
        this.headBytes += bytes;
        return this.statusLine(buf, start, end);
      case HEADER_LINE:
        this.headBytes += bytes;
        return start === end ? this.endOfHead() : this.headerLine(buf, start, end, true);
      case CHUNK_SIZE:
        return this.chunkSize(buf, start, end);
      case TRAILER_LINE:
        this.headBytes += bytes;
        if (start !== end) return this.headerLine(buf, start, end, false);
        this.state = DONE;
        return 0;
      default:
        return this.fail("unexpected parser state");
    }
  }

  /** `HTTP/1.1 200 OK` (or 1.0; the reason may be empty, with or without its space). */
  private statusLine(buf: Buffer, start: number, end: number): number {
    const n = end - start;
    if (
      n < 12 ||
      buf[start] !== 72 || // H
      buf[start + 1] !== 84 || // T
      buf[start + 2] !== 84 ||
      buf[start + 3] !== 80 || // P
      buf[start + 4] !== 47 || // /
      buf[start + 5] !== 49 || // 1
      buf[start + 6] !== 46 || // .
      (buf[start + 7] !== 49 && buf[start + 7] !== 48) ||
      buf[start + 8] !== 32
    )
      return this.fail("an invalid status line");
    const d0 = (buf[start + 9] ?? 0) - 48;
    const d1 = (buf[start + 10] ?? 0) - 48;
    const d2 = (buf[start + 11] ?? 0) - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.fail("an invalid status code");
    if (n > 12) {
      if (buf[start + 12] !== 32) return this.fail("an invalid status line");
      for (let i = start + 13; i < end; i++)
        if (VALUE[buf[i] ?? 0] === 0) return this.fail("a control character in the reason phrase");
    }
    this.http10 = buf[start + 7] === 48;
    this.status = d0 * 100 + d1 * 10 + d2;
    this.state = HEADER_LINE;
    return 0;
  }

  /** `name: value`: a token, no space before the colon, no obs-fold, no control characters. */
  private headerLine(buf: Buffer, start: number, end: number, keep: boolean): number {
    const first = buf[start] ?? 0;
    if (first === 32 || first === 9) return this.fail("an obs-folded header line");
    let colon = start;
    while (colon < end && TOKEN[buf[colon] ?? 0] === 1) colon++;
    if (colon === start || colon === end || buf[colon] !== 58) return this.fail("an invalid header name");
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (buf[vs] === 32 || buf[vs] === 9)) vs++;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    for (let i = vs; i < ve; i++) if (VALUE[buf[i] ?? 0] === 0) return this.fail("an invalid header value");
    if (!keep) return 0; // a trailer: checked, dropped (the router does not forward trailers)
    if (this.headers.length >= MAX_HEADERS * 2) return this.fail("too many headers");
    const nameLength = colon - start;
    if (nameLength === 14 || nameLength === 17 || nameLength === 10) {
      const framing = this.framingHeader(buf, start, colon, vs, ve);
      if (framing < 0) return framing;
    }
    this.headers.push(buf.toString("latin1", start, colon), buf.toString("latin1", vs, ve));
    return 0;
  }

  /** Content-Length, Transfer-Encoding and Connection: what delimits the body and the connection. */
  private framingHeader(buf: Buffer, start: number, colon: number, vs: number, ve: number): number {
    if (equalsLower(buf, start, colon, "content-length")) {
      const value = parseDigits(buf, vs, ve);
      if (value >= 0) return this.setContentLength(value);
      // A list of equal values is allowed (RFC 9110 §8.6), different ones are a smuggling attempt.
      for (const item of buf.toString("latin1", vs, ve).split(",")) {
        const digits = item.trim();
        if (!/^\d{1,15}$/.test(digits)) return this.fail("an invalid Content-Length");
        if (this.setContentLength(Number(digits)) < 0) return FAILED;
      }
    } else if (equalsLower(buf, start, colon, "transfer-encoding")) {
      if (this.chunked || !equalsLower(buf, vs, ve, "chunked"))
        return this.fail("a Transfer-Encoding other than one `chunked`");
      this.chunked = true;
    } else if (equalsLower(buf, start, colon, "connection")) {
      if (equalsLower(buf, vs, ve, "keep-alive")) this.connectionKeepAlive = true;
      else if (equalsLower(buf, vs, ve, "close")) this.connectionClose = true;
      else {
        for (const token of buf.toString("latin1", vs, ve).toLowerCase().split(",")) {
          const t = token.trim();
          if (t === "close") this.connectionClose = true;
          else if (t === "keep-alive") this.connectionKeepAlive = true;
        }
      }
    }
    return 0;
  }

  private setContentLength(value: number): number {
    if (this.contentLength >= 0 && this.contentLength !== value)
      return this.fail("conflicting Content-Length values");
    this.contentLength = value;
    return 0;
  }

  private endOfHead(): number {
    if (this.chunked && this.contentLength >= 0)
      return this.fail("both Content-Length and Transfer-Encoding");
    const status = this.status;
    if (status < 200) {
      // The router sends no upgrade on this path: a 101 here would leave the connection in a
      // protocol nobody asked for.
      if (status === 101) return this.fail("a 101 to a request that asked for no upgrade");
      if (++this.interim > MAX_INTERIM) return this.fail("too many interim responses");
      this.state = STATUS_LINE;
      this.startHead();
      return 0;
    }
    if (this.connectionClose || (this.http10 && !this.connectionKeepAlive)) this.keepAlive = false;
    const headers = this.headers;
    this.headers = [];
    if (this.noBody || status === 204 || status === 304) this.state = DONE;
    else if (this.chunked) this.state = CHUNK_SIZE;
    else if (this.contentLength > 0) {
      this.state = BODY_LENGTH;
      this.remaining = this.contentLength;
    } else if (this.contentLength === 0) this.state = DONE;
    else {
      this.state = BODY_CLOSE;
      this.remaining = Infinity;
      this.keepAlive = false;
    }
    this.headBytes = 0;
    return this.sink.onHead(status, headers) ? 0 : STOPPED;
  }

  /** `1a3f`, optionally `;ext…` (after optional whitespace); nothing else. */
  private chunkSize(buf: Buffer, start: number, end: number): number {
    let size = 0;
    let i = start;
    for (; i < end; i++) {
      const v = hexValue(buf[i] ?? 0);
      if (v < 0) break;
      if (i - start >= MAX_SIZE_DIGITS) return this.fail("a chunk size over the limit");
      size = size * 16 + v;
    }
    if (i === start) return this.fail("an invalid chunk size");
    if (i < end) {
      let j = i;
      while (j < end && (buf[j] === 32 || buf[j] === 9)) j++;
      if (buf[j] !== 59 /* ; */) return this.fail("an invalid chunk size");
      for (; j < end; j++) if (VALUE[buf[j] ?? 0] === 0) return this.fail("an invalid chunk extension");
    }
    if (size === 0) this.state = TRAILER_LINE;
    else {
      this.state = CHUNK_DATA;
      this.remaining = size;
    }
    return 0;
  }

  private startHead(): void {
    this.status = 0;
    this.http10 = false;
    this.headers = [];
    this.headBytes = 0;
    this.contentLength = -1;
    this.chunked = false;
    this.connectionClose = false;
    this.connectionKeepAlive = false;
    this.parts = [];
    this.partLength = 0;
  }

  private fail(why: string): number {
    this.state = ERROR;
    this.error = why;
    this.keepAlive = false;
    return FAILED;
  }
}
