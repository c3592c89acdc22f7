import { logAdd } from './logMath.js';
import { DEFAULT_ORDERS, rdpToEpsilon, type PrivacySpent } from './rdp.js';

/**
 * RDP of the Gaussian mechanism on a uniformly random subset of fixed size m = q n, drawn
 * without replacement, under replace-one neighbours (n public): Wang, Balle &
 * Kasiviswanathan 2019, "Subsampled Renyi Differential Privacy and Analytical Moments
 * Accountant", Theorem 27, computed as TF-Privacy's `compute_rdp_sample_without_replacement`
 * (tensorflow_privacy/privacy/analysis/rdp_accountant.py): exactly up to order 256 by forward
 * differences of the Gaussian's CGF, above it with the theorem's simpler bound, and at
 * fractional orders by interpolating the CGF between the neighbouring integers (Corollary 10).
 *
 * This is the analysis that fits fedmq's selection (exactly ceil(fraction x eligible) devices
 * a round). `sigma` is the noise over the base mechanism's replace-one sensitivity: for a sum
 * of updates clipped to C, replacing one device moves the sum by up to 2C, so a run with noise
 * z C has sigma = z / 2 (`fixedSizePrivacySpent` does that).
 */
const MAX_EXACT_ORDER = 256;

/** log C(n, k) for whole n, k. */
function logComb(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** log|e^x - e^y| and whether e^x - e^y >= 0. */
function logSubSign(x: number, y: number): [boolean, number] {
  if (x > y) return [true, x + Math.log(1 - Math.exp(y - x))];
  if (x < y) return [false, y + Math.log(1 - Math.exp(x - y))];
  return [true, -Infinity];
}

/** Replaces vec[0..n-1] (log-magnitudes with signs) by their forward differences, in place. */
function diffInLog(vec: Float64Array, signs: boolean[], n: number): void {
  for (let j = 0; j < n; j++) {
    if (signs[j] === signs[j + 1]) {
      const [sign, mag] = logSubSign(vec[j + 1]!, vec[j]!);
      vec[j] = mag;
      signs[j] = signs[j + 1] ? sign : !sign;
    } else {
      vec[j] = logAdd(vec[j]!, vec[j + 1]!);
      signs[j] = signs[j + 1]!;
    }
  }
}

/** log|k-th forward difference| at 0 of exp(fun), k = 0..n+1 (TF-Privacy's `_get_forward_diffs`, layout kept). */
function forwardDiffs(fun: (x: number) => number, n: number): Float64Array {
  const vec = new Float64Array(n + 3);
  const signs = new Array<boolean>(n + 3).fill(true);
  const deltas = new Float64Array(n + 2);
  for (let i = 1; i < n + 3; i++) vec[i] = fun(i - 1);
  for (let i = 0; i < n + 2; i++) {
    diffInLog(vec, signs, n + 2 - i);
    deltas[i] = vec[0]!;
  }
  return deltas;
}

/** log A at integer alpha >= 2 (the caller divides by alpha - 1). */
function logAInt(q: number, sigma: number, alpha: number): number {
  if (alpha === 1) return 0;
  const cgf = (x: number): number => (x * (x + 1)) / (2 * sigma * sigma);
  const rdp = (x: number): number => x / (2 * sigma * sigma);
  const logQ = Math.log(q);
  let logA = 0;
  const logF2m1 = rdp(2) + Math.log(1 - Math.exp(-rdp(2)));
  const second = 2 * logQ + logComb(alpha, 2) + Math.min(Math.log(4) + logF2m1, rdp(2) + Math.log(2));
  logA = logAdd(logA, second);
  if (alpha <= MAX_EXACT_ORDER) {
    const deltas = forwardDiffs(cgf, alpha);
    for (let i = 3; i <= alpha; i++) {
      const lo = deltas[2 * Math.floor(i / 2) - 1]!;
      const hi = deltas[2 * Math.ceil(i / 2) - 1]!;
      let s = Math.min(Math.log(4) + 0.5 * (lo + hi), Math.log(2) + cgf(i - 1));
      s += i * logQ + logComb(alpha, i);
      logA = logAdd(logA, s);
    }
  } else {
    for (let i = 3; i <= alpha; i++) logA = logAdd(logA, Math.log(2) + cgf(i - 1) + i * logQ + logComb(alpha, i));
  }
  return logA;
}

/** RDP of one step at order alpha (>= 1); may be Infinity. */
export function rdpOfStepWithoutReplacement(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`sampling rate must be in [0, 1], got ${q}`);
  if (!(alpha >= 1)) throw new RangeError(`a Renyi order must be >= 1, got ${alpha}`);
  if (q === 0) return 0;
  if (!(sigma > 0)) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (alpha === Infinity) return Infinity;
  if (Number.isInteger(alpha)) return alpha === 1 ? 0 : logAInt(q, sigma, alpha) / (alpha - 1);
  const floor = Math.floor(alpha);
  const t = alpha - floor;
  return ((1 - t) * logAInt(q, sigma, floor) + t * logAInt(q, sigma, floor + 1)) / (alpha - 1);
}

/** RDP of `steps` steps at every order. */
export function computeRdpWithoutReplacement(q: number, sigma: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): Float64Array {
  if (!(steps >= 0) || !Number.isFinite(steps)) throw new RangeError(`steps must be a finite number >= 0, got ${steps}`);
  return Float64Array.from(orders, (alpha) => (steps === 0 ? 0 : rdpOfStepWithoutReplacement(q, sigma, alpha) * steps));
}

/**
 * (epsilon, delta) after `steps` rounds that each sum the updates (clipped to C) of exactly
 * q n of n devices, chosen uniformly without replacement, plus N(0, (z C)^2): replace-one-device
 * neighbours, so sigma = z / 2 in the analysis above.
 */
export function fixedSizePrivacySpent(noiseMultiplier: number, samplingRate: number, steps: number, delta: number, orders: readonly number[] = DEFAULT_ORDERS): PrivacySpent {
  return rdpToEpsilon(orders, computeRdpWithoutReplacement(samplingRate, noiseMultiplier / 2, steps, orders), delta);
}
