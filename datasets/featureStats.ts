/**
 * Federated feature statistics. A device sends only per-feature counts, sums and sums of
 * squares (`featureMoments`); adding them up (`combineMoments`) gives exactly the moments of
 * all devices' data pooled, from which `featureStatistics` derives the fleet's mean and
 * standard deviation for standardisation. Sums are kept in float64.
 */

/** What leaves a device: per-feature count, sum and sum of squares. */
export interface FeatureMoments {
  count: number[];
  sum: number[];
  sumSquares: number[];
}

/** The fleet's per-feature mean and population standard deviation (divisor n, as in z-scoring). */
export interface FeatureStatistics {
  count: number[];
  mean: number[];
  std: number[];
}

/**
 * The moments of `values` (row-major, `features` per row) over `rows` (default every row).
 * Pure: no I/O, nothing but the aggregates is returned.
 */
export function featureMoments(values: Float32Array, features: number, rows?: ArrayLike<number>): FeatureMoments {
  if (!Number.isSafeInteger(features) || features < 1) throw new RangeError(`featureMoments: features must be a positive integer, got ${features}`);
  if (values.length % features !== 0) throw new RangeError(`featureMoments: ${values.length} values are not rows of ${features}`);
  const total = values.length / features;
  const count = rows === undefined ? total : rows.length;
  const sum = new Float64Array(features);
  const sumSquares = new Float64Array(features);
  for (let k = 0; k < count; k++) {
    const r = rows === undefined ? k : (rows[k] as number);
    if (!(r >= 0 && r < total)) throw new RangeError(`featureMoments: row ${r} is outside 0..${total - 1}`);
    const base = r * features;
    for (let f = 0; f < features; f++) {
      const v = values[base + f] as number;
      sum[f] = (sum[f] as number) + v;
      sumSquares[f] = (sumSquares[f] as number) + v * v;
    }
  }
  return { count: new Array<number>(features).fill(count), sum: [...sum], sumSquares: [...sumSquares] };
}

/** Adds devices' moments feature by feature; every part must have the same feature count. */
export function combineMoments(parts: readonly FeatureMoments[]): FeatureMoments {
  const first = parts[0];
  if (first === undefined) throw new RangeError('combineMoments: no moments to combine');
  const features = first.count.length;
  const out: FeatureMoments = { count: new Array<number>(features).fill(0), sum: new Array<number>(features).fill(0), sumSquares: new Array<number>(features).fill(0) };
  parts.forEach((part, p) => {
    for (const key of ['count', 'sum', 'sumSquares'] as const) {
      if (part[key].length !== features) throw new RangeError(`combineMoments: part ${p} has ${part[key].length} ${key}, part 0 has ${features}`);
    }
    for (let f = 0; f < features; f++) {
      out.count[f] = (out.count[f] as number) + (part.count[f] as number);
      out.sum[f] = (out.sum[f] as number) + (part.sum[f] as number);
      out.sumSquares[f] = (out.sumSquares[f] as number) + (part.sumSquares[f] as number);
    }
  });
  return out;
}

/**
 * Mean and population std from moments: `mean = sum / n`, `std = sqrt(max(0, sumSquares / n - mean^2))`.
 * The difference of squares loses digits when the spread is tiny next to the mean (relative
 * error near 1e-16 * mean^2 / variance), harmless for sensor readings in float64.
 */
export function featureStatistics(moments: FeatureMoments): FeatureStatistics {
  const mean: number[] = [];
  const std: number[] = [];
  moments.count.forEach((n, f) => {
    if (!(n > 0)) throw new RangeError(`featureStatistics: feature ${f} has no values`);
    const m = (moments.sum[f] as number) / n;
    mean.push(m);
    std.push(Math.sqrt(Math.max(0, (moments.sumSquares[f] as number) / n - m * m)));
  });
  return { count: [...moments.count], mean, std };
}

/** Standardises `values` in place: `(v - mean) / std`, a feature with std 0 only centred. Returns `values`. */
export function standardize(values: Float32Array, stats: Pick<FeatureStatistics, 'mean' | 'std'>): Float32Array {
  const features = stats.mean.length;
  if (stats.std.length !== features || values.length % features !== 0) {
    throw new RangeError(`standardize: ${values.length} values do not match ${features} features`);
  }
  const scale = stats.std.map((s) => (s > 0 ? 1 / s : 1));
  for (let i = 0; i < values.length; i++) {
    const f = i % features;
    values[i] = ((values[i] as number) - (stats.mean[f] as number)) * (scale[f] as number);
  }
  return values;
}
