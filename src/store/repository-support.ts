import { SlipwayError } from "../util/index.js";
import { writeTransaction, type RepositoryContext, type WriteScope } from "./context.js";
import { validateEventInput } from "./event-log.js";
import { isConcurrencyFailure, isUniqueViolation } from "./store-errors.js";
import type { EventInput } from "./types.js";

/**
 * What the delivery and pipeline repositories share: input checks that run before a transaction starts
 * (so a bad request never takes the write lock), JSON encoding, list limits, and the write wrapper.
 */

export const MAX_LIST_LIMIT = 1000;

export function invalid(message: string): SlipwayError {
  return new SlipwayError("invalid_request", message);
}

export function requireName(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") throw invalid(`${what} must be a non-empty string`);
  return value;
}

export function requireWholeNumber(value: unknown, what: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${what} must be a whole number, ${min} or more`);
  }
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function requireHash(value: unknown, what: string): string {
  if (typeof value !== "string" || !SHA256_HEX.test(value)) {
    throw invalid(`${what} must be a SHA-256 digest in lowercase hex`);
  }
  return value;
}

export function requireTime(value: unknown, what: string): string {
  if (typeof value !== "string" || Number.isNaN(Date.parse(value))) {
    throw invalid(`${what} must be an ISO-8601 time`);
  }
  return value;
}

export function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${what} must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

/** JSON text for a `JsonValue`; refuses what JSON cannot hold (undefined, functions, bigints, cycles). */
export function toJson(value: unknown, what: string): string {
  // `unknown`: JSON.stringify's declared type hides that it returns undefined for undefined and functions.
  let text: unknown;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new SlipwayError("invalid_request", `${what} is not JSON-serialisable`, { cause: e });
  }
  if (typeof text !== "string") throw invalid(`${what} must be a JSON value`);
  return text;
}

/** `fallback` when absent; a whole number below 1 is refused, one above the maximum is capped. */
export function resolveLimit(limit: unknown, fallback: number): number {
  if (limit === undefined) return fallback;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw invalid(`limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  }
  return Math.min(limit, MAX_LIST_LIMIT);
}

export function validateEvents(events: unknown): EventInput[] {
  if (events === undefined) return [];
  if (!Array.isArray(events)) throw invalid("events must be a list");
  for (const event of events as EventInput[]) validateEventInput(event);
  return events as EventInput[];
}

/** Byte order, the same on both dialects (PostgreSQL orders text by its collation, SQLite by bytes). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `writeTransaction`, plus: a PostgreSQL serialization failure, or a key or unique index that fired (only
 * reachable for a writer that skipped the write lock), is a `conflict` with nothing written.
 */
export async function write<T>(
  ctx: RepositoryContext,
  what: string,
  work: (scope: WriteScope) => Promise<T>,
): Promise<T> {
  try {
    return await writeTransaction(ctx, work);
  } catch (e) {
    if (isConcurrencyFailure(e) || isUniqueViolation(e)) {
      throw new SlipwayError("stale_write", `${what} collided with a concurrent write; nothing was changed`, {
        hint: "read again and retry",
        cause: e,
      });
    }
    throw e;
  }
}
