/**
 * Pure aggregation math, callable without MQTT. Deltas are `local - global`; sums are kept
 * in float64 so the order in which updates arrive changes the result by no more than
 * float64 rounding. `P` below is the model's parameter count, `n` the number of deltas.
 */

/** sum_k n_k * delta_k / sum_k n_k (McMahan et al. 2017, eq. for FedAvg). */
export function weightedMean(deltas: ArrayLike<number>[], weights: number[]): Float64Array {
  const first = deltas[0];
  if (first === undefined) throw new RangeError('weightedMean needs at least one delta');
  const out = new Float64Array(first.length);
  let total = 0;
  deltas.forEach((d, k) => {
    const w = weights[k]!;
    if (d.length !== out.length) throw new RangeError(`delta ${k} has length ${d.length}, expected ${out.length}`);
    for (let i = 0; i < out.length; i++) out[i]! += w * d[i]!;
    total += w;
  });
  return scale(out, 1 / total);
}

/** The unweighted mean, sum_k delta_k / n. */
export function mean(deltas: ArrayLike<number>[]): Float64Array {
  return weightedMean(deltas, deltas.map(() => 1));
}

export function scale(v: Float64Array, factor: number): Float64Array {
  for (let i = 0; i < v.length; i++) v[i]! *= factor;
  return v;
}

/** global + step * delta, as the next float32 global. */
export function applyDelta(global: Float32Array, delta: ArrayLike<number>, step = 1): Float32Array {
  const out = new Float32Array(global.length);
  for (let i = 0; i < global.length; i++) out[i] = global[i]! + step * delta[i]!;
  return out;
}

/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards
 * Optimal Statistical Rates"); for even n the mean of the two middle values. Unweighted.
 * O(P) memory besides the inputs.
 */
export function coordinateMedian(deltas: ArrayLike<number>[]): Float64Array {
  const n = deltas.length;
  return perCoordinate(deltas, (sorted) => (n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2));
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the floor(beta * n)
 * largest and as many smallest values, average the rest. beta in [0, 0.5); unweighted.
 */
export function trimmedMean(deltas: ArrayLike<number>[], beta: number): Float64Array {
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`trimmedMean: beta must be in [0, 0.5), got ${beta}`);
  const n = deltas.length;
  const cut = Math.floor(beta * n);
  return perCoordinate(deltas, (sorted) => {
    let sum = 0;
    for (let k = cut; k < n - cut; k++) sum += sorted[k]!;
    return sum / (n - 2 * cut);
  });
}

/** Applies `reduce` to each coordinate's n values, sorted ascending. */
function perCoordinate(deltas: ArrayLike<number>[], reduce: (sorted: Float64Array) => number): Float64Array {
  const n = deltas.length;
  const first = deltas[0];
  if (first === undefined) throw new RangeError('needs at least one delta');
  const length = first.length;
  deltas.forEach((d, k) => {
    if (d.length !== length) throw new RangeError(`delta ${k} has length ${d.length}, expected ${length}`);
  });
  const out = new Float64Array(length);
  const column = new Float64Array(n);
  for (let i = 0; i < length; i++) {
    for (let k = 0; k < n; k++) column[k] = deltas[k]![i]!;
    sortSmall(column);
    out[i] = reduce(column);
  }
  return out;
}

/** Ascending in place: insertion sort for the usual handful of devices, the built-in beyond. */
function sortSmall(a: Float64Array): void {
  if (a.length > 32) {
    a.sort();
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/** Squared Euclidean distances between every pair, as a row-major n x n matrix. */
export function pairwiseSquaredDistances(deltas: ArrayLike<number>[]): Float64Array {
  const n = deltas.length;
  const out = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const [x, y] = [deltas[a]!, deltas[b]!];
      if (x.length !== y.length) throw new RangeError(`deltas ${a} and ${b} differ in length`);
      let s = 0;
      for (let i = 0; i < x.length; i++) {
        const d = x[i]! - y[i]!;
        s += d * d;
      }
      out[a * n + b] = s;
      out[b * n + a] = s;
    }
  }
  return out;
}

/**
 * Krum scores (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant
 * Gradient Descent"): for each delta, the sum of squared distances to its n - f - 2 nearest
 * others. Needs n >= 2f + 3 (the paper's condition n > 2f + 2).
 */
export function krumScores(distances: Float64Array, n: number, f: number): Float64Array {
  if (distances.length !== n * n) throw new RangeError(`krumScores: ${distances.length} distances for n = ${n}`);
  if (!(Number.isInteger(f) && f >= 0 && n >= 2 * f + 3)) throw new RangeError(`krumScores: needs n >= 2f + 3, got n = ${n}, f = ${f}`);
  const neighbours = n - f - 2;
  const scores = new Float64Array(n);
  const row = new Float64Array(n - 1);
  for (let a = 0; a < n; a++) {
    let j = 0;
    for (let b = 0; b < n; b++) if (b !== a) row[j++] = distances[a * n + b]!;
    row.sort();
    let s = 0;
    for (let k = 0; k < neighbours; k++) s += row[k]!;
    scores[a] = s;
  }
  return scores;
}

/**
 * Multi-Krum's selection (Blanchard et al. 2017, §4): the m deltas of lowest Krum score,
 * ties to the lower index. m = 1 is Krum. Returns indices in selection order.
 */
export function krumSelect(deltas: ArrayLike<number>[], f: number, m: number): number[] {
  const n = deltas.length;
  if (!(Number.isInteger(m) && m >= 1 && m <= n)) throw new RangeError(`krumSelect: m must be an integer in [1, ${n}], got ${m}`);
  const scores = krumScores(pairwiseSquaredDistances(deltas), n, f);
  const order = Array.from({ length: n }, (_, k) => k);
  order.sort((a, b) => scores[a]! - scores[b]! || a - b);
  return order.slice(0, m);
}

/** Euclidean norm, scaled first so that huge finite values do not overflow to Infinity. */
export function l2Norm(v: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  if (max === 0) return 0;
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]! / max;
    s += x * x;
  }
  return max * Math.sqrt(s);
}

/**
 * Scales `v` in place to L2 norm `c` if it is longer (norm bounding, Sun et al. 2019, "Can
 * You Really Backdoor Federated Learning?"); returns the factor applied (1 when within).
 */
export function clipToNorm(v: Float32Array | Float64Array, c: number): number {
  if (!(c > 0)) throw new RangeError(`clipToNorm: the bound must be > 0, got ${c}`);
  const norm = l2Norm(v);
  if (norm <= c) return 1;
  const factor = c / norm;
  for (let i = 0; i < v.length; i++) v[i]! *= factor;
  return factor;
}

/**
 * Centered clipping (Karimireddy, He & Jaggi 2021, "Learning from History for Byzantine Robust
 * Optimization", eq. (CC)): `iterations` times, v <- v + (1/n) sum_k clip_tau(delta_k - v),
 * where clip_tau scales a vector down to L2 norm tau if longer. Starts at `center` (the paper:
 * the previous aggregate). Each delta can move v by at most tau / n per iteration, so a long
 * (boosted or sign-flipped) update pulls no harder than an honest one. Unweighted; float64.
 */
export function centeredClip(deltas: ArrayLike<number>[], center: ArrayLike<number>, tau: number, iterations: number): Float64Array {
  if (!(tau > 0)) throw new RangeError(`centeredClip: tau must be > 0, got ${tau}`);
  if (!(Number.isInteger(iterations) && iterations >= 1)) throw new RangeError(`centeredClip: iterations must be an integer >= 1, got ${iterations}`);
  const n = deltas.length;
  if (n === 0) throw new RangeError('centeredClip needs at least one delta');
  const v = Float64Array.from(center);
  deltas.forEach((d, k) => {
    if (d.length !== v.length) throw new RangeError(`delta ${k} has length ${d.length}, expected ${v.length}`);
  });
  const diff = new Float64Array(v.length);
  const step = new Float64Array(v.length);
  for (let it = 0; it < iterations; it++) {
    step.fill(0);
    for (const d of deltas) {
      for (let i = 0; i < v.length; i++) diff[i] = d[i]! - v[i]!;
      const norm = l2Norm(diff);
      const factor = norm > tau ? tau / norm : 1;
      for (let i = 0; i < v.length; i++) step[i]! += factor * diff[i]!;
    }
    for (let i = 0; i < v.length; i++) v[i]! += step[i]! / n;
  }
  return v;
}
