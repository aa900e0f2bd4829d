/**
 * A clock for tests that moves only when told to: pass `clock.now` as a store's `now` option.
 *
 * @example
 *   const clock = createTestClock("2025-01-01T00:00:00.000Z");
 *   const store = await backend.open({ now: clock.now });
 *   clock.advance(61_000);
 */
export interface TestClock {
  now: () => Date;
  advance: (ms: number) => void;
  set: (iso: string) => void;
}

export function createTestClock(startIso = "2025-01-01T00:00:00.000Z"): TestClock {
  let current = new Date(startIso).getTime();
  return {
    now: () => new Date(current),
    advance: (ms) => {
      current += ms;
    },
    set: (iso) => {
      current = new Date(iso).getTime();
    },
  };
}
