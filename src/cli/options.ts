import { InvalidArgumentError } from "commander";

/**
 * Commander argument parser for `-n/--limit`: a whole number from 1 to 1000, refused before any request
 * is made. Commander prints the message as `error: option '-n, --limit <n>' argument 'x' is invalid. …`.
 */
export function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1 || limit > 1000) {
    throw new InvalidArgumentError(`expected a whole number from 1 to 1000; found "${value}"`);
  }
  return limit;
}
