import { logAdd, logErfc, logSub } from './logMath.js';

/**
 * Renyi differential privacy of the sampled Gaussian mechanism (Mironov 2017, "Renyi
 * Differential Privacy"; Mironov, Talwar & Zhang 2019, "Renyi Differential Privacy of the
 * Sampled Gaussian Mechanism", section 3.3), computed as TF-Privacy's `compute_rdp`
 * (tensorflow_privacy/privacy/analysis/rdp_accountant.py) and Opacus's
 * (opacus/accountants/analysis/rdp.py) do: exactly, as a finite sum, at integer orders, and
 * by the paper's convergent series at fractional ones. Each round (step) releases a sum of
 * updates clipped to L2 norm C plus N(0, (z C)^2) noise, each device included independently
 * with probability q (Poisson sampling; add/remove-one-device neighbours).
 */

/**
 * The orders alpha searched: Opacus's `RDPAccountant.DEFAULT_ALPHAS` (1 + x/10 for x in
 * 1..99, then 12..63) and TF-Privacy's 128, 256 and 512, which win when epsilon is small.
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 52 }, (_, k) => 12 + k),
  128,
  256,
  512,
]);

/** log(A_alpha) for integer alpha, 0 < q < 1: the binomial expansion, summed in log space. */
function logAInt(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let logA = -Infinity;
  let logBinom = 0; // log C(alpha, i), updated in place
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log(alpha - i + 1) - Math.log(i);
    const s = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/**
 * log(A_alpha) for fractional alpha, 0 < q < 1: the two integrals over (-inf, z0] and
 * [z0, inf) as series in generalized binomial coefficients, stopped when both terms fall
 * below e^-30 (TF-Privacy's `_compute_log_a_frac`).
 */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const sqrt2Sigma = Math.SQRT2 * sigma;
  let logAbsBinom = 0; // log |C(alpha, i)|
  let positive = true; // sign of C(alpha, i)
  for (let i = 0; ; i++) {
    if (i > 0) {
      const factor = alpha - (i - 1);
      logAbsBinom += Math.log(Math.abs(factor)) - Math.log(i);
      if (factor < 0) positive = !positive;
    }
    const j = alpha - i;
    const logT0 = logAbsBinom + i * logQ + j * log1mQ;
    const logT1 = logAbsBinom + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (positive) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/** RDP of one step of the sampled Gaussian mechanism at order `alpha` (> 1); may be Infinity. */
export function rdpOfStep(q: number, noiseMultiplier: number, alpha: number): number {
  checkSamplingRate(q);
  if (q === 0) return 0;
  if (!(noiseMultiplier > 0)) return Infinity; // no noise: no privacy
  if (alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * noiseMultiplier * noiseMultiplier);
  const logA = Number.isInteger(alpha) ? logAInt(q, noiseMultiplier, alpha) : logAFrac(q, noiseMultiplier, alpha);
  return logA / (alpha - 1);
}

/** RDP of `steps` steps at every order (composition adds RDP order by order). */
export function computeRdp(q: number, noiseMultiplier: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): Float64Array {
  if (!(steps >= 0) || !Number.isFinite(steps)) throw new RangeError(`steps must be a finite number >= 0, got ${steps}`);
  const rdp = new Float64Array(orders.length);
  for (let k = 0; k < orders.length; k++) rdp[k] = steps === 0 ? 0 : rdpOfStep(q, noiseMultiplier, orders[k]!) * steps;
  return rdp;
}

/** An (epsilon, delta) guarantee and the order it came from. */
export interface PrivacySpent {
  epsilon: number;
  /** The order alpha that gave the smallest epsilon (NaN when every order gave Infinity). */
  order: number;
}

/**
 * RDP to (epsilon, delta): the improved conversion of Balle et al. 2020 ("Hypothesis Testing
 * Interpretations and Renyi Differential Privacy", Theorem 21), also Asoodeh et al. 2020
 * Proposition 12: epsilon = rdp + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1),
 * minimised over the orders. This is Opacus's `get_privacy_spent` with TF-Privacy's
 * `_compute_eps` guards: epsilon 0 when delta^2 >= 1 - e^-rdp (the KL bound already gives delta),
 * orders <= 1.01 skipped as numerically unstable, and the result never below 0.
 */
export function rdpToEpsilon(orders: readonly number[], rdp: ArrayLike<number>, delta: number): PrivacySpent {
  if (orders.length !== rdp.length) throw new RangeError(`orders and rdp differ in length (${orders.length} and ${rdp.length})`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  let best = Infinity;
  let order = NaN;
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!;
    const r = rdp[k]!;
    if (!(a >= 1)) throw new RangeError(`a Renyi order must be >= 1, got ${a}`);
    if (!(r >= 0)) throw new RangeError(`a Renyi divergence must be >= 0, got ${r}`);
    let eps: number;
    if (delta * delta + Math.expm1(-r) >= 0) eps = 0;
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else eps = Infinity;
    if (eps < best) {
      best = eps;
      order = a;
    }
  }
  return { epsilon: Math.max(0, best), order };
}

/**
 * Epsilon after `steps` rounds of the sampled Gaussian mechanism with noise multiplier z
 * (noise std / L2 sensitivity) and sampling rate q, for the given delta.
 * `epsilon(1.5, 0.04, 2250, 1e-5)` is Opacus's test case, 7.3291.
 */
export function epsilon(noiseMultiplier: number, samplingRate: number, steps: number, delta: number, orders: readonly number[] = DEFAULT_ORDERS): number {
  return privacySpent(noiseMultiplier, samplingRate, steps, delta, orders).epsilon;
}

/** As `epsilon`, with the optimal order. */
export function privacySpent(noiseMultiplier: number, samplingRate: number, steps: number, delta: number, orders: readonly number[] = DEFAULT_ORDERS): PrivacySpent {
  return rdpToEpsilon(orders, computeRdp(samplingRate, noiseMultiplier, steps, orders), delta);
}

/**
 * The smallest noise multiplier (to within `tolerance` in epsilon) that keeps `steps` rounds
 * at sampling rate q within (targetEpsilon, delta): Opacus's `get_noise_multiplier` (double
 * until under the target, then bisect until epsilon is within `tolerance` below it).
 */
export function noiseMultiplierFor(targetEpsilon: number, samplingRate: number, steps: number, delta: number, tolerance = 0.01, orders: readonly number[] = DEFAULT_ORDERS): number {
  if (!(targetEpsilon > 0)) throw new RangeError(`target epsilon must be > 0, got ${targetEpsilon}`);
  let low = 0;
  let high = 10;
  let epsHigh = Infinity;
  while (epsHigh > targetEpsilon) {
    high *= 2;
    if (high > 1e6) throw new RangeError(`no noise multiplier up to 1e6 reaches epsilon ${targetEpsilon}`);
    epsHigh = epsilon(high, samplingRate, steps, delta, orders);
  }
  while (targetEpsilon - epsHigh > tolerance) {
    const mid = (low + high) / 2;
    const eps = epsilon(mid, samplingRate, steps, delta, orders);
    if (eps < targetEpsilon) {
      high = mid;
      epsHigh = eps;
    } else {
      low = mid;
    }
  }
  return high;
}

function checkSamplingRate(q: number): void {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`sampling rate must be in [0, 1], got ${q}`);
}
