/**
 * Log-space arithmetic and log(erfc) for the RDP accountant: the sampled Gaussian's A_alpha
 * spans hundreds of orders of magnitude, so it is summed as logarithms (as TF-Privacy's
 * `rdp_accountant.py` and Opacus's `analysis/rdp.py` do).
 */

/** log(e^x + e^y); -Infinity stands for 0. */
export function logAdd(x: number, y: number): number {
  const a = Math.min(x, y);
  const b = Math.max(x, y);
  if (a === -Infinity) return b;
  return Math.log1p(Math.exp(a - b)) + b;
}

/** log(e^x - e^y) for x >= y; throws when the difference would be negative. */
export function logSub(x: number, y: number): number {
  if (x < y) throw new RangeError(`logSub: the result of subtraction must be non-negative (${x} < ${y})`);
  if (y === -Infinity) return x;
  if (x === y) return -Infinity;
  // log(e^x - e^y) = x + log(1 - e^(y - x)): no overflow however far apart x and y are.
  return x + Math.log(-Math.expm1(y - x));
}

/**
 * Chebyshev coefficients of log(erfc(z) e^(z^2) (2 + z) / 2) in t = 2 / (2 + z), z >= 0
 * (Press et al., Numerical Recipes 3rd ed., section 6.2.2, `Erf::erfccheb`): relative
 * error near double precision over the whole half-line, and, used in log form below, no
 * underflow where erfc itself would round to 0 (z > 26.5).
 */
const ERFC_CHEBYSHEV = [
  -1.3026537197817094, 6.419697923564902e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
  -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
  -1.624290004647e-6, 1.30365583558e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9,
  5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12, -6.886027e-12,
  8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16,
  -2.8e-17,
] as const;

/** log(erfc(z)) for z >= 0, by the Chebyshev fit above. */
function logErfcNonNegative(z: number): number {
  const t = 2 / (2 + z);
  const ty = 4 * t - 2;
  let d = 0;
  let dd = 0;
  for (let j = ERFC_CHEBYSHEV.length - 1; j > 0; j--) {
    const tmp = d;
    d = ty * d - dd + ERFC_CHEBYSHEV[j]!;
    dd = tmp;
  }
  return Math.log(t) - z * z + 0.5 * (ERFC_CHEBYSHEV[0] + ty * d) - dd;
}

/** log(erfc(x)) for any real x, accurate for large x where erfc(x) underflows. */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x >= 0) return logErfcNonNegative(x);
  // erfc(x) = 2 - erfc(-x), which lies in [1, 2): no cancellation.
  if (x === -Infinity) return Math.LN2;
  return Math.log(2 - Math.exp(logErfcNonNegative(-x)));
}

/** erfc(x). */
export function erfc(x: number): number {
  return Math.exp(logErfc(x));
}
