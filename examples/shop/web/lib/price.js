// The example service's one piece of logic, so its test suite has something real to cover.

/** Price in cents after a percentage discount, rounded half up; never below zero. */
export function discounted(cents, percent) {
  if (!Number.isInteger(cents) || cents < 0)
    throw new RangeError(`cents must be a whole number ≥ 0, got ${cents}`);
  if (typeof percent !== "number" || percent < 0 || percent > 100) {
    throw new RangeError(`percent must be from 0 to 100, got ${percent}`);
  }
  return Math.max(0, Math.round((cents * (100 - percent)) / 100));
}

/** "12.34 EUR" */
export function format(cents, currency = "EUR") {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")} ${currency}`;
}
