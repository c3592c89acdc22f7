/**
 * The bridge between float model updates and secure aggregation's integers in Z_2^32.
 *
 * Rule (agreed per round; both ends build it with the same `clip` and `maxDevices`):
 *   levels = floor((2^31 - 1) / maxDevices),  scale = levels / clip.
 * A device clips each coordinate to [-clip, clip], multiplies by `scale` and rounds
 * stochastically (up with probability equal to the fraction, so E[q] = x * scale exactly), giving
 * an integer q in [-levels, levels], stored as q mod 2^32. The sum of up to `maxDevices` such
 * integers lies in [-(2^31 - 1), 2^31 - 1], so read back as a signed int32 it is the true integer
 * sum, never wrapped, and `dequantizeSum` divides it by `scale`. The rounding error is at most
 * 1/scale = clip / levels per device and coordinate, zero on average (e.g. clip 1 at 100
 * devices: 21,474,836 levels, an error under 5e-8).
 *
 * Which codecs compose: a masked vector is uniform in Z_2^32, dense, 4 bytes a coordinate,
 * whatever went in, so sparsifying codecs (top-k, random-k) and error feedback on the upload do
 * not survive masking, nor does entropy coding; the input itself must be a dense vector of
 * integers with a fixed scale, which is what this bridge makes (int8 / int16 quantization are
 * dense integer codecs of the same kind, at a coarser scale). Which strategies compose: those
 * that need only the sum (FedAvg and its server optimizers: FedAvgM, FedAdam, FedYogi on the
 * averaged delta; DP-FedAvg's noise on the sum); not the robust rules that need individual
 * updates (median, trimmed mean, Krum, norm bounding per update).
 */

export interface SecAggQuantizer {
  /** Each coordinate is clipped to [-clip, clip]. */
  readonly clip: number;
  /** The most inputs the sum may hold. */
  readonly maxDevices: number;
  /** Integer levels on each side of zero per device: floor((2^31 - 1) / maxDevices). */
  readonly levels: number;
  /** levels / clip: integer units per unit of update. */
  readonly scale: number;
}

export function secaggQuantizer(clip: number, maxDevices: number): SecAggQuantizer {
  if (!(Number.isFinite(clip) && clip > 0)) throw new RangeError(`clip must be a positive number, got ${clip}`);
  if (!(Number.isInteger(maxDevices) && maxDevices >= 1 && maxDevices <= 2 ** 31 - 1)) throw new RangeError(`maxDevices must be a positive integer, got ${maxDevices}`);
  const levels = Math.floor((2 ** 31 - 1) / maxDevices);
  return { clip, maxDevices, levels, scale: levels / clip };
}

/** A float update as uint32 words (two's complement of the stochastically rounded integers). */
export function quantizeForSecAgg(update: Float32Array, q: SecAggQuantizer, random: () => number = Math.random): Uint32Array {
  const out = new Uint32Array(update.length);
  for (let i = 0; i < update.length; i++) {
    const x = update[i]!;
    if (!Number.isFinite(x)) throw new RangeError(`update[${i}] is ${x}`);
    const v = Math.min(q.clip, Math.max(-q.clip, x)) * q.scale;
    const f = Math.floor(v);
    const n = Math.min(q.levels, Math.max(-q.levels, f + (random() < v - f ? 1 : 0)));
    out[i] = n; // Uint32Array stores n mod 2^32
  }
  return out;
}

/** The float sum of `count` quantized inputs from their sum in Z_2^32. */
export function dequantizeSum(sum: Uint32Array, q: SecAggQuantizer, count: number): Float32Array {
  if (count > q.maxDevices) throw new RangeError(`${count} inputs exceed the quantizer's ${q.maxDevices}: their sum may have wrapped`);
  const signed = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
  const out = new Float32Array(sum.length);
  for (let i = 0; i < out.length; i++) out[i] = signed[i]! / q.scale;
  return out;
}
