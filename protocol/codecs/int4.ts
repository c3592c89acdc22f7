import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';
import { FormatId, HEADER_BYTES, checkChunkSize, chunkMaxAbs, readChunkScales, readHeader, writeHeader, type Codec } from './codec.js';

/** Values per scale: 256 bytes of values and 4 of scale per chunk, 7.88x smaller than f32. */
export const DEFAULT_INT4_CHUNK = 512;
const LEVELS = 7;

/**
 * 4-bit quantisation: one float32 scale per chunk (max |x| / 7), levels -7..7, stochastic
 * rounding so that E[decode(encode(x))] = x (QSGD with s = 7 levels, Alistarh et al. 2017).
 * Error per coordinate < its chunk's scale. Layout after the header: chunk size (u32),
 * scales (f32 x chunks), then two values per byte (value 2i in the low nibble, 2i+1 in the
 * high one, 4-bit two's complement). The nibble -8 is never written and is rejected, as is a
 * non-zero unused high nibble when the length is odd.
 */
export function int4Codec(chunkSize = DEFAULT_INT4_CHUNK): Codec {
  checkChunkSize(chunkSize, 'int4');
  const spec = chunkSize === DEFAULT_INT4_CHUNK ? 'int4' : `int4@${chunkSize}`;

  function parse(bytes: Uint8Array, length: number): { scales: Float32Array; p: Uint8Array; chunk: number } {
    const { aligned, view } = readHeader(bytes, FormatId.Int4, length);
    const { chunk, scales, valuesAt } = readChunkScales(aligned, view, length, 'int4', packedBytes);
    const p = new Uint8Array(aligned.buffer, aligned.byteOffset + valuesAt, packedBytes(length));
    for (let j = 0; j < p.length; j++) {
      const b = p[j]!;
      if ((b & 0x0f) === 8 || b >> 4 === 8) {
        throw new DecodeError(DecodeReason.Malformed, `int4 value ${2 * j + ((b & 0x0f) === 8 ? 0 : 1)} is -8, outside -7..7`);
      }
    }
    if (length % 2 === 1 && p[p.length - 1]! >> 4 !== 0) {
      throw new DecodeError(DecodeReason.Malformed, 'int4 padding nibble after the last value is not zero');
    }
    return { scales, p, chunk };
  }

  return {
    spec,
    description: `int4, stochastic rounding, one scale per ${chunkSize} values (error < scale = max|x|/7)`,

    encode(delta: Float32Array, rng: Rng): Uint8Array {
      const n = delta.length;
      const chunks = Math.ceil(n / chunkSize);
      const scalesAt = HEADER_BYTES + 4;
      const valuesAt = scalesAt + chunks * 4;
      const out = new Uint8Array(valuesAt + packedBytes(n));
      const view = new DataView(out.buffer);
      writeHeader(view, FormatId.Int4, n);
      view.setUint32(HEADER_BYTES, chunkSize, true);
      const scales = new Float32Array(out.buffer, scalesAt, chunks);
      const p = out.subarray(valuesAt);
      for (let c = 0; c < chunks; c++) {
        const start = c * chunkSize;
        const end = Math.min(n, start + chunkSize);
        const max = chunkMaxAbs(delta, start, end);
        let scale = Math.fround(max / LEVELS);
        // Round the scale up rather than to nearest, so that |x| / scale <= 7 and the clamp
        // below never cuts the largest value (which would bias it by up to 2^-24 relative).
        if (scale * LEVELS < max) scale = nextUp(scale);
        scales[c] = scale;
        if (scale === 0) continue;
        const inv = 1 / scale;
        for (let i = start; i < end; i++) {
          const v = Math.floor(delta[i]! * inv + rng.next());
          const level = v > LEVELS ? LEVELS : v < -LEVELS ? -LEVELS : v;
          p[i >> 1]! |= (level & 0x0f) << ((i & 1) << 2);
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
        for (let i = start; i < end; i++) out[i] = s * level(p, i);
      }
      return out;
    },

    accumulate(bytes, length, target, weight) {
      const { scales, p, chunk } = parse(bytes, length);
      for (let c = 0, start = 0; start < length; c++, start += chunk) {
        const s = weight * scales[c]!;
        const end = Math.min(length, start + chunk);
        for (let i = start; i < end; i++) target[i]! += s * level(p, i);
      }
    },

    maxEncodedBytes: (length) => HEADER_BYTES + 4 + length * 4 + packedBytes(length),
  };
}

/** Value i's level: its nibble sign-extended by shifting it to the top of an int32 and back. */
function level(p: Uint8Array, i: number): number {
  const b = p[i >> 1]!;
  return (i & 1) === 0 ? (b << 28) >> 28 : (b << 24) >> 28;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The next float32 above a positive float32. */
function nextUp(x: number): number {
  f32[0] = x;
  u32[0] = u32[0]! + 1;
  return f32[0]!;
}

function packedBytes(length: number): number {
  return Math.ceil(length / 2);
}
