import assert from "node:assert/strict";
import { test } from "node:test";
import { discounted, format } from "../lib/price.js";

test("applies a discount and rounds half up", () => {
  assert.equal(discounted(1000, 10), 900);
  assert.equal(discounted(999, 50), 500);
  assert.equal(discounted(1000, 0), 1000);
  assert.equal(discounted(1000, 100), 0);
});

test("refuses impossible inputs", () => {
  assert.throws(() => discounted(-1, 10), RangeError);
  assert.throws(() => discounted(1.5, 10), RangeError);
  assert.throws(() => discounted(100, 101), RangeError);
  assert.throws(() => discounted(100, "10"), RangeError);
});

test("formats cents", () => {
  assert.equal(format(1234), "12.34 EUR");
  assert.equal(format(5, "USD"), "0.05 USD");
});
