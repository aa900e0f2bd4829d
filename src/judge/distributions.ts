/**
 * The few special functions and distribution tails the judge needs, written out from their textbook
 * definitions instead of taken from a statistics library: every p-value in a stored verdict can then be
 * traced to a formula cited here, and nothing changes under us with a dependency update.
 *
 * References:
 * - [A&S] Abramowitz & Stegun, Handbook of Mathematical Functions (1964): 6.1.15, 6.1.40, 26.2.11, 26.2.14.
 * - [Marsaglia] G. Marsaglia, "Evaluating the Normal Distribution", J. Stat. Software 11(4), 2004.
 * - [NR] Press et al., Numerical Recipes, 3rd ed. (2007), §5.2 (modified Lentz's method).
 * - [Loader] C. Loader, "Fast and Accurate Computation of Binomial Probabilities" (2000): the binomial and
 *   hypergeometric point probabilities, as in R's dbinom and dhyper.
 */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** Relative size below which a further term cannot change a double-precision sum. */
const NEGLIGIBLE = 1e-17;

/**
 * ln Γ(x) for x > 0, by Stirling's series [A&S 6.1.40] with five terms after shifting x up to at least 15
 * with Γ(x + 1) = x Γ(x) [A&S 6.1.15]. At x ≥ 15 the first omitted term, 691 / (360360 x¹¹), is below
 * 3e-16, so the error is rounding only. Chosen over Lanczos because its coefficients (Bernoulli numbers
 * B₂…B₁₀: 1/12, −1/360, 1/1260, −1/1680, 1/1188) can be checked by hand.
 *
 * @example
 *   logGamma(101); // ln(100!) = 363.73937555556347
 */
export function logGamma(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`logGamma needs a finite x > 0, got ${x}`);
  let y = x;
  let shift = 0;
  while (y < 15) {
    shift += Math.log(y);
    y += 1;
  }
  return (y - 0.5) * Math.log(y) - y + LOG_SQRT_2PI + stirlingSeries(y) - shift;
}

/** The Stirling series of ln Γ(x) beyond (x − ½) ln x − x + ½ ln 2π [A&S 6.1.40]; accurate for x ≥ 15. */
function stirlingSeries(x: number): number {
  const inv = 1 / x;
  const inv2 = inv * inv;
  return inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188))));
}

/**
 * δ(n) = ln n! − [(n + ½) ln n − n + ½ ln 2π], the error of Stirling's formula, for n ≥ 1 [Loader]: the
 * series for n > 15, else from logGamma (cancellation there costs ~1e-15 absolute at most).
 */
function stirlingError(n: number): number {
  if (n > 15) return stirlingSeries(n);
  return logGamma(n + 1) - (n + 0.5) * Math.log(n) + n - LOG_SQRT_2PI;
}

/**
 * D(x, m) = x ln(x/m) + m − x ≥ 0, the deviance of x against a mean m [Loader]. When x ≈ m the two parts
 * nearly cancel, so there it is summed as D = (x − m)·v + 2x·Σ_{j≥1} v^(2j+1)/(2j+1) with
 * v = (x − m)/(x + m), which follows from ln(x/m) = 2 artanh v; the terms have one sign and shrink by v².
 */
function deviance(x: number, m: number): number {
  if (Math.abs(x - m) < 0.1 * (x + m)) {
    let v = (x - m) / (x + m);
    let sum = (x - m) * v;
    let term = 2 * x * v;
    v *= v;
    for (let j = 1; j < 1000; j++) {
      term *= v;
      const next = sum + term / (2 * j + 1);
      if (next === sum) return next;
      sum = next;
    }
    return sum;
  }
  return x * Math.log(x / m) + m - x;
}

/**
 * ln P(X = x) for X ~ Binomial(n, p), by Loader's saddle-point form (the one R's dbinom uses):
 * P = exp(δ(n) − δ(x) − δ(n − x) − D(x, np) − D(n − x, nq)) / √(2π x (n − x) / n). Unlike
 * ln C(n, x) + x ln p + (n − x) ln q, no term is ~n ln n, so it keeps ~1e-15 relative precision at a
 * million trials where the naive form loses six digits to cancellation.
 *
 * [Loader] C. Loader, "Fast and Accurate Computation of Binomial Probabilities" (2000).
 */
export function logBinomialPmf(x: number, n: number, p: number, q = 1 - p): number {
  if (x < 0 || x > n) return -Infinity;
  if (p === 0) return x === 0 ? 0 : -Infinity;
  if (q === 0) return x === n ? 0 : -Infinity;
  if (x === 0) return n * Math.log(q);
  if (x === n) return n * Math.log(p);
  const lc =
    stirlingError(n) - stirlingError(x) - stirlingError(n - x) - deviance(x, n * p) - deviance(n - x, n * q);
  return lc - 0.5 * (Math.log(2 * Math.PI) + Math.log(x) + Math.log1p(-x / n));
}

/**
 * ln P(A = a) for A ~ Hypergeometric(total, marked, draws), as three binomial terms with p = draws/total
 * (R's dhyper, after Loader): P = b(a; marked, p) · b(draws − a; total − marked, p) / b(draws; total, p).
 */
export function logHypergeometricPmf(a: number, total: number, marked: number, draws: number): number {
  const p = draws / total;
  const q = (total - draws) / total;
  return (
    logBinomialPmf(a, marked, p, q) +
    logBinomialPmf(draws - a, total - marked, p, q) -
    logBinomialPmf(draws, total, p, q)
  );
}

/** The standard normal density φ(z). */
function normalDensity(z: number): number {
  return Math.exp(-0.5 * z * z - LOG_SQRT_2PI);
}

/**
 * Q(z) = 1 − Φ(z) = P(Z ≥ z) for a standard normal Z, to about 1e-15 relative, also far in the tail
 * (the p-value of a z test is this at the z score).
 *
 * - 0 ≤ z < 1: Φ(z) − ½ = φ(z) Σ z^(2n+1) / (1·3·5···(2n+1)) [A&S 26.2.11, Marsaglia]. All terms are
 *   positive, so the series has no cancellation, and ½ − (…) ≥ 0.158 loses under 2 bits.
 * - z ≥ 1: Q(z) = φ(z) / (z + 1/(z + 2/(z + 3/(z + …)))) [A&S 26.2.14], evaluated forwards with
 *   modified Lentz [NR §5.2]: about 400 terms at z = 1, 50 at z = 3, a few far out, and full relative
 *   precision where ½ − Φ(z) would underflow to 0.
 * - z < 0: Q(z) = 1 − Q(−z), which is ≥ ½ so nothing is lost.
 */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) throw new RangeError("normalUpperTail of NaN");
  if (z < 0) return 1 - normalUpperTail(-z);
  if (z === Infinity) return 0;
  if (z < 1) {
    let term = z;
    let sum = z;
    for (let n = 1; term > sum * NEGLIGIBLE; n++) {
      term *= (z * z) / (2 * n + 1);
      sum += term;
    }
    return 0.5 - normalDensity(z) * sum;
  }
  return normalDensity(z) * millsRatio(z);
}

/** R(z) = Q(z) / φ(z) for z ≥ 1 from the continued fraction 1/(z + 1/(z + 2/(z + …))). */
function millsRatio(z: number): number {
  const tiny = 1e-300;
  // f = b0 + a1/(b1 + a2/(b2 + …)) with b0 = 0, a1 = 1, a_j = j − 1 (j ≥ 2), b_j = z.
  let f = tiny;
  let c = f;
  let d = 0;
  for (let j = 1; j <= 2000; j++) {
    const a = j === 1 ? 1 : j - 1;
    d = z + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = z + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return f;
}

/**
 * Sums P(start) + P(start + step) + … up to `end` for a unimodal distribution, moving away from its mode,
 * so terms only shrink: the loop stops once a term can no longer change the sum, which keeps the cost at
 * a few standard deviations of terms however large n is. Each term is the previous times `ratio(i)` =
 * P(i + step) / P(i); only the first needs logarithms. Summing the small tail directly (never as
 * 1 − the big side) keeps tiny p-values accurate to ~1e-13 relative instead of rounding them to 0.
 */
function sumAwayFromMode(
  logFirst: number,
  start: number,
  end: number,
  step: 1 | -1,
  ratio: (i: number) => number,
): number {
  let term = Math.exp(logFirst);
  let sum = 0;
  for (let i = start; ; i += step) {
    sum += term;
    if (i === end || term <= sum * NEGLIGIBLE) return sum;
    term *= ratio(i);
  }
}

/**
 * P(X ≥ k) for X ~ Binomial(n, p): the exact one-sided binomial test's p-value for k successes when the
 * true rate is at most p (R's `binom.test(k, n, p, alternative = "greater")`).
 *
 * @example
 *   binomialUpperTail(9, 10, 0.5); // 11 / 1024 = 0.0107421875
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0 || p >= 1) return 1;
  if (k > n || p <= 0) return 0;
  const logPmf = (i: number) => logBinomialPmf(i, n, p);
  const mode = Math.floor((n + 1) * p);
  if (k >= mode) {
    return sumAwayFromMode(logPmf(k), k, n, 1, (i) => ((n - i) / (i + 1)) * (p / (1 - p)));
  }
  const below = sumAwayFromMode(logPmf(k - 1), k - 1, 0, -1, (i) => (i / (n - i + 1)) * ((1 - p) / p));
  return Math.max(0, 1 - below);
}

/**
 * P(A ≥ a) for A ~ Hypergeometric: `draws` items taken without replacement from `total` of which
 * `marked` are marked, A the marked ones drawn. This is the one-sided p-value of Fisher's exact test for
 * a 2×2 table with margins fixed (R's `fisher.test(…, alternative = "greater")`).
 *
 * @example
 *   // Fisher's tea-tasting table [[3, 1], [1, 3]]: 17/70
 *   hypergeometricUpperTail(3, 8, 4, 4); // 0.24285714285714285
 */
export function hypergeometricUpperTail(a: number, total: number, marked: number, draws: number): number {
  const lowest = Math.max(0, draws - (total - marked));
  const highest = Math.min(marked, draws);
  if (a <= lowest) return 1;
  if (a > highest) return 0;
  const unmarked = total - marked;
  const logPmf = (i: number) => logHypergeometricPmf(i, total, marked, draws);
  const mode = Math.floor(((draws + 1) * (marked + 1)) / (total + 2));
  if (a >= mode) {
    const up = (i: number) => ((marked - i) * (draws - i)) / ((i + 1) * (unmarked - draws + i + 1));
    return sumAwayFromMode(logPmf(a), a, highest, 1, up);
  }
  const down = (i: number) => (i * (unmarked - draws + i)) / ((marked - i + 1) * (draws - i + 1));
  return Math.max(0, 1 - sumAwayFromMode(logPmf(a - 1), a - 1, lowest, -1, down));
}
