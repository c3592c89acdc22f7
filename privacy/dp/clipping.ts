/**
 * L2 clipping for DP-FedAvg (McMahan et al. 2018, "Learning Differentially Private Recurrent
 * Language Models", Algorithm 1: Delta <- Delta * min(1, C / ||Delta||)). The sensitivity
 * bound the noise is calibrated to is exactly "every clipped update has norm <= C", so the
 * clip must hold after float32 rounding too: scaling by C / norm in float32 can land a few
 * ulps above C, and then the factor is nudged down until it does not.
 */

/** Euclidean norm in float64, scaled first so that huge finite values do not overflow. */
export function l2Norm(v: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (a > max) max = a;
  }
  if (max === 0) return 0;
  if (!Number.isFinite(max)) return max; // Infinity or NaN
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]! / max;
    s += x * x;
  }
  return max * Math.sqrt(s);
}

/** What `clipToNorm` did to one update. */
export interface ClipResult {
  /** The update's L2 norm before clipping. */
  norm: number;
  /** The factor applied (1 when the update was within the bound). */
  factor: number;
  /** True when the update was within the bound and left as it was. */
  unclipped: boolean;
}

/**
 * Scales `v` in place to L2 norm at most `c` (measured in float64 over the values as stored)
 * if it is longer. Throws on a non-finite value: a NaN or Infinity has no norm to bound, and
 * decoded updates are finite by validation, so one here is a bug upstream.
 */
export function clipToNorm(v: Float32Array | Float64Array, c: number): ClipResult {
  if (!(c > 0 && Number.isFinite(c))) throw new RangeError(`clip norm must be a positive number, got ${c}`);
  const norm = l2Norm(v);
  if (!Number.isFinite(norm)) throw new RangeError('cannot clip an update with a non-finite value');
  if (norm <= c) return { norm, factor: 1, unclipped: true };
  let factor = c / norm;
  for (let i = 0; i < v.length; i++) v[i]! *= factor;
  for (let attempt = 0; ; attempt++) {
    const now = l2Norm(v);
    if (now <= c) return { norm, factor, unclipped: false };
    // Rounding left it a hair above C: shrink again, by a few float32 ulps more than needed.
    if (attempt >= 64) throw new RangeError(`clipToNorm could not bring the norm to ${c}`);
    const shrink = (c / now) * (1 - 2 ** -22);
    for (let i = 0; i < v.length; i++) v[i]! *= shrink;
    factor *= shrink;
  }
}
