/**
 * Pure aggregation math, callable without MQTT. Deltas are `local - global`; sums are kept
 * in float64 so the order in which updates arrive changes the result by no more than
 * float64 rounding.
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
