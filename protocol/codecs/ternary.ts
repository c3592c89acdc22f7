import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';
import { FormatId, HEADER_BYTES, checkChunkSize, chunkMaxAbs, readChunkScales, readHeader, writeHeader, type Codec } from './codec.js';

/** Values per scale: 128 bytes of values and 4 of scale per chunk, 15.5x smaller than f32. */
export const DEFAULT_TERNARY_CHUNK = 512;

/** 2-bit codes, value i in bits 2(i mod 4)..2(i mod 4)+1 of byte i/4; the code 3 is invalid. */
const PLUS = 1;
const MINUS = 2;

/**
 * How the encoder picks each chunk's scale s and the values in {-s, 0, s}; the wire format
 * and the decoder are the same for both.
 * - `stochastic`: TernGrad (Wen et al. 2017): s = max |x|, x becomes s * sign(x) with
 *   probability |x| / s, else 0. Unbiased; error per coordinate < s.
 * - `mean`: STC's deterministic step (Sattler et al. 2019), meant for values already
 *   sparsified by top-k: s = mean |x| over the chunk's non-zero values, every non-zero x
 *   becomes s * sign(x). Biased per coordinate, but keeps the chunk's L1 mass; error per
 *   coordinate <= max |x| - min |x| over those values.
 */
export type TernaryMode = 'stochastic' | 'mean';

/**
 * Ternary quantisation with one float32 scale per chunk. Layout after the header: chunk
 * size (u32), scales (f32 x chunks), then four 2-bit codes per byte (0 = 0, 1 = +s, 2 = -s;
 * 3 and non-zero padding bits after the last value are rejected).
 */
export function ternaryCodec(chunkSize = DEFAULT_TERNARY_CHUNK, mode: TernaryMode = 'stochastic'): Codec {
  checkChunkSize(chunkSize, 'ternary');
  const spec = chunkSize === DEFAULT_TERNARY_CHUNK ? 'ternary' : `ternary@${chunkSize}`;

  function parse(bytes: Uint8Array, length: number): { scales: Float32Array; p: Uint8Array; chunk: number } {
    const { aligned, view } = readHeader(bytes, FormatId.Ternary, length);
    const { chunk, scales, valuesAt } = readChunkScales(aligned, view, length, 'ternary', packedBytes);
    const p = new Uint8Array(aligned.buffer, aligned.byteOffset + valuesAt, packedBytes(length));
    // A code 3 has both of its bits set: b & (b >> 1) has a 1 at the code's low bit.
    for (let j = 0; j < p.length; j++) {
      const b = p[j]!;
      const bad = b & (b >> 1) & 0x55;
      if (bad !== 0) throw new DecodeError(DecodeReason.Malformed, `ternary value ${4 * j + (31 - Math.clz32(bad & -bad)) / 2} has the invalid code 3`);
    }
    const used = length % 4;
    if (used !== 0 && p[p.length - 1]! >> (2 * used) !== 0) {
      throw new DecodeError(DecodeReason.Malformed, 'ternary padding bits after the last value are not zero');
    }
    return { scales, p, chunk };
  }

  return {
    spec,
    description:
      mode === 'stochastic'
        ? `ternary {-s, 0, s}, s = max|x| per ${chunkSize} values, kept with probability |x|/s (unbiased, error < s)`
        : `ternary {-mu, mu}, mu = mean|x| of the non-zero values per ${chunkSize} (STC, deterministic, error <= max|x| - min|x|)`,

    encode(delta: Float32Array, rng: Rng): Uint8Array {
      const n = delta.length;
      const chunks = Math.ceil(n / chunkSize);
      const scalesAt = HEADER_BYTES + 4;
      const valuesAt = scalesAt + chunks * 4;
      const out = new Uint8Array(valuesAt + packedBytes(n));
      const view = new DataView(out.buffer);
      writeHeader(view, FormatId.Ternary, n);
      view.setUint32(HEADER_BYTES, chunkSize, true);
      const scales = new Float32Array(out.buffer, scalesAt, chunks);
      const p = out.subarray(valuesAt);
      for (let c = 0; c < chunks; c++) {
        const start = c * chunkSize;
        const end = Math.min(n, start + chunkSize);
        const max = chunkMaxAbs(delta, start, end);
        if (max === 0) continue;
        if (mode === 'stochastic') {
          scales[c] = max;
          // P(u * s < |x|) = |x| / s for u uniform in [0, 1), without dividing.
          for (let i = start; i < end; i++) {
            const x = delta[i]!;
            if (rng.next() * max < Math.abs(x)) p[i >> 2]! |= (x > 0 ? PLUS : MINUS) << ((i & 3) << 1);
          }
        } else {
          let sum = 0;
          let count = 0;
          for (let i = start; i < end; i++) {
            const x = delta[i]!;
            if (x !== 0) {
              sum += Math.abs(x);
              count++;
              p[i >> 2]! |= (x > 0 ? PLUS : MINUS) << ((i & 3) << 1);
            }
          }
          scales[c] = sum / count;
        }
      }
      return out;
    },

    decode(bytes, length) {
      const { scales, p, chunk } = parse(bytes, length);
      const out = new Float32Array(length);
      for (let c = 0, start = 0; start < length; c++, start += chunk) {
        const s = scales[c]!;
        const end = Math.min(length, start + chunk);
        for (let i = start; i < end; i++) out[i] = s * sign(p, i);
      }
      return out;
    },

    accumulate(bytes, length, target, weight) {
      const { scales, p, chunk } = parse(bytes, length);
      for (let c = 0, start = 0; start < length; c++, start += chunk) {
        const s = weight * scales[c]!;
        const end = Math.min(length, start + chunk);
        for (let i = start; i < end; i++) {
          const v = sign(p, i);
          if (v !== 0) target[i]! += s * v;
        }
      }
    },

    maxEncodedBytes: (length) => HEADER_BYTES + 4 + length * 4 + packedBytes(length),
  };
}

/** Value i as -1, 0 or 1 (codes 2, 0, 1; parse has ruled out 3). */
function sign(p: Uint8Array, i: number): number {
  const code = (p[i >> 2]! >> ((i & 3) << 1)) & 3;
  return code === PLUS ? 1 : code === MINUS ? -1 : 0;
}

function packedBytes(length: number): number {
  return Math.ceil(length / 4);
}
