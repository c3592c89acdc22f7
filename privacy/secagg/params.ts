/**
 * How many neighbours (k) each device shares its secrets with, and how many shares (t) rebuild
 * one, from the number of devices n, the fraction of devices that may drop out (delta) and the
 * fraction that may collude with a curious server (gamma). This is the rule of Bell et al. 2020
 * ("Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS; SecAgg+), in the form
 * of Google's reference implementation of it (fcp/secagg `graph_parameter_finder`), whose table of
 * precomputed (n, gamma, delta) -> (k, t) our tests reproduce:
 *
 * - The graph is a Harary graph H(n, k) (a ring where each node links to the k/2 nearest on each
 *   side) with node positions permuted at random by the server. Removing bad nodes (colluders or
 *   dropouts) disconnects the honest survivors only if two disjoint runs of k/2 consecutive
 *   positions are all bad: a union bound over the n(n-k-1)/2 pairs of runs must be < 2^-(sigma+1).
 * - Security: the number of colluders among a device's k neighbours is hypergeometric; t is one
 *   more than the count they exceed with probability < 2^-(sigma+1)/n (union bound over devices),
 *   so they never hold t shares of anyone's secret (sigma = 40).
 * - Correctness: the number of survivors among a device's k neighbours must be >= t except with
 *   probability < 2^-eta/n, so every secret the server needs can be rebuilt (eta = 20: a round
 *   fails with probability < 2^-20 when at most delta*n devices drop).
 * - The smallest even k for which such a t exists wins; when none below n-1 does (small fleets),
 *   every device is everyone's neighbour (k = n-1, the original SecAgg of Bonawitz et al. 2017).
 *
 * One deliberate difference from the reference: it raises t to 2 (Shamir needs t >= 2) after
 * checking t <= t_max, which at n = 10, delta = 0.33 gives (k, t) = (4, 2) although a device's
 * 4 neighbours then keep fewer than 2 survivors with probability 7/210; we require 2 <= t_max too
 * (giving (6, 2)).
 */
import { SecAggError } from './errors.js';

export interface SecAggThreatModel {
  /** Fraction of the round's devices that may drop out after sending their keys. @default 1/3 */
  readonly dropoutRate: number;
  /** Fraction of devices that may collude with an honest-but-curious server. @default 0.05 */
  readonly corruptRate: number;
  /** Statistical security: privacy fails with probability < 2^-security. @default 40 */
  readonly security: number;
  /** Correctness: a round within the dropout rate fails with probability < 2^-correctness. @default 20 */
  readonly correctness: number;
}

export const DEFAULT_DROPOUT_RATE = 1 / 3;
export const DEFAULT_CORRUPT_RATE = 0.05;

export function defaultThreatModel(): SecAggThreatModel {
  return { dropoutRate: DEFAULT_DROPOUT_RATE, corruptRate: DEFAULT_CORRUPT_RATE, security: 40, correctness: 20 };
}

export interface SecAggGraphParams {
  /** Devices in the round (that sent keys). */
  readonly n: number;
  /** Neighbours per device (n - 1: complete graph). */
  readonly k: number;
  /** Shares needed to rebuild a secret. */
  readonly t: number;
}

/** Guards floating-point rounding of rate * n in the insecure direction (as the reference does). */
const SMALL = 1e-14;

export function chooseGraphParams(n: number, threat: SecAggThreatModel = defaultThreatModel()): SecAggGraphParams {
  const { dropoutRate: delta, corruptRate: gamma } = threat;
  if (!Number.isInteger(n) || n < 3) throw new SecAggError('too-few', `secure aggregation needs at least 3 devices, got ${n}`);
  if (!(delta >= 0 && delta < 1 && gamma >= 0 && gamma < 1 && delta + gamma <= 0.9)) {
    throw new SecAggError('no-parameters', `dropout rate ${delta} and corrupt rate ${gamma} must be in [0, 1) with a sum <= 0.9`);
  }
  const corrupt = Math.floor((gamma + SMALL) * n);
  const survivors = Math.ceil((1 - delta - SMALL) * n);
  const bad = corrupt + Math.floor((delta + SMALL) * n);
  const logSecurity = -(threat.security + 1) * Math.LN2; // split between the two bad events
  const perDevice = (logP: number): number => logP - Math.log(n);

  const check = (k: number, complete: boolean): number | undefined => {
    if (!complete && logDisconnected(n, k, bad) >= logSecurity) return undefined;
    // t1: the smallest x with P[colluding neighbours > x] < 2^-(sigma+1) / n.
    const above = upperTails(hypergeometricLogPmf(n, corrupt, k));
    let t1 = 0;
    while (t1 < k && above[t1 + 1]! >= perDevice(logSecurity)) t1++;
    // tMax: the largest t with P[surviving neighbours < t] < 2^-eta / n.
    const below = lowerTails(hypergeometricLogPmf(n, survivors, k));
    const logCorrect = perDevice(-threat.correctness * Math.LN2);
    let tMax = 0;
    while (tMax < k && below[tMax + 1]! < logCorrect) tMax++;
    const t = Math.max(t1 + 1, 2);
    return t <= tMax ? t : undefined;
  };
  for (let k = 2; k < n - 1; k += 2) {
    const t = check(k, false);
    if (t !== undefined) return { n, k, t };
  }
  const t = check(n - 1, true);
  if (t !== undefined) return { n, k: n - 1, t };
  throw new SecAggError('no-parameters', `no neighbour count and threshold give ${threat.security}-bit security and tolerate a ${delta.toFixed(2)} dropout rate with ${n} devices`);
}

/**
 * log of the union bound on the random Harary graph H(n, k) losing connectivity once `bad`
 * uniformly placed nodes are removed: n(n-k-1)/2 pairs of k/2-runs, each all bad with
 * probability bad!/(bad-k)! / (n!/(n-k)!).
 */
function logDisconnected(n: number, k: number, bad: number): number {
  if (k > bad) return -Infinity;
  return Math.log(n) + Math.log(n - k - 1) - Math.LN2 + logFactorial(bad) + logFactorial(n - k) - logFactorial(n) - logFactorial(bad - k);
}

/**
 * log P[X = j], j = 0..k, for X ~ Hypergeometric(population n, marked m, draws k): the
 * reference's model of a device's k neighbours drawn from the n devices.
 */
function hypergeometricLogPmf(n: number, m: number, k: number): number[] {
  const out: number[] = [];
  for (let j = 0; j <= k; j++) {
    out.push(j > m || k - j > n - m ? -Infinity : logChoose(m, j) + logChoose(n - m, k - j) - logChoose(n, k));
  }
  return out;
}

/** tails[x] = log P[X >= x], x = 0..k+1, summed from the far end so 1e-20 tails keep their precision. */
function upperTails(logPmf: number[]): number[] {
  const tails = new Array<number>(logPmf.length + 1).fill(-Infinity);
  for (let x = logPmf.length - 1; x >= 0; x--) tails[x] = logAdd(tails[x + 1]!, logPmf[x]!);
  return tails;
}

/** tails[x] = log P[X < x], x = 0..k+1. */
function lowerTails(logPmf: number[]): number[] {
  const tails = new Array<number>(logPmf.length + 1).fill(-Infinity);
  for (let x = 1; x <= logPmf.length; x++) tails[x] = logAdd(tails[x - 1]!, logPmf[x - 1]!);
  return tails;
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const max = Math.max(a, b);
  return max + Math.log(Math.exp(a - max) + Math.exp(b - max));
}

function logChoose(a: number, b: number): number {
  return logFactorial(a) - logFactorial(b) - logFactorial(a - b);
}

const LOG_FACT_TABLE: number[] = [0];
/** ln(x!): exact sums up to 1024, Stirling's series (error < 1e-16 relative) above. */
export function logFactorial(x: number): number {
  if (x < 1024) {
    for (let i = LOG_FACT_TABLE.length; i <= x; i++) LOG_FACT_TABLE[i] = LOG_FACT_TABLE[i - 1]! + Math.log(i);
    return LOG_FACT_TABLE[x]!;
  }
  const x2 = x * x;
  return x * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI * x) + 1 / (12 * x) - 1 / (360 * x * x2) + 1 / (1260 * x2 * x2 * x);
}
