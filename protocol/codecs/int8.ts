import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';
import { FormatId, HEADER_BYTES, checkChunkSize, chunkMaxAbs, readChunkScales, readHeader, writeHeader, type Codec } from './codec.js';

/** Values per scale: 4 bytes of scale per 1,024 bytes of values keeps the ratio to f32 at 3.98x. */
export const DEFAULT_INT8_CHUNK = 1024;
const LEVELS = 127;

/**
 * 8-bit quantisation with one float32 scale per chunk (max |x| / 127) and stochastic
 * rounding, so that E[decode(encode(x))] = x (unbiased, as in QSGD, Alistarh et al. 2017).
 * Error per coordinate < its chunk's scale. Layout after the header: chunk size (u32),
 * scales (f32 x chunks), values (i8 x length, -127..127).
 */
export function int8Codec(chunkSize = DEFAULT_INT8_CHUNK): Codec {
  checkChunkSize(chunkSize, 'int8');
  const spec = chunkSize === DEFAULT_INT8_CHUNK ? 'int8' : `int8@${chunkSize}`;

  function parse(bytes: Uint8Array, length: number): { scales: Float32Array; q: Int8Array; chunk: number } {
    const { aligned, view } = readHeader(bytes, FormatId.Int8, length);
    const { chunk, scales, valuesAt } = readChunkScales(aligned, view, length, 'int8', (n) => n);
    const q = new Int8Array(aligned.buffer, aligned.byteOffset + valuesAt, length);
    const bad = findMinus128(aligned, valuesAt, length);
    if (bad >= 0) throw new DecodeError(DecodeReason.Malformed, `int8 value ${bad} is -128, outside -127..127`);
    return { scales, q, chunk };
  }

  return {
    spec,
    description: `int8, stochastic rounding, one scale per ${chunkSize} values (error < scale = max|x|/127)`,

    encode(delta: Float32Array, rng: Rng): Uint8Array {
      const n = delta.length;
      const chunks = Math.ceil(n / chunkSize);
      const scalesAt = HEADER_BYTES + 4;
      const valuesAt = scalesAt + chunks * 4;
      const out = new Uint8Array(valuesAt + n);
      const view = new DataView(out.buffer);
      writeHeader(view, FormatId.Int8, n);
      view.setUint32(HEADER_BYTES, chunkSize, true);
      const scales = new Float32Array(out.buffer, scalesAt, chunks);
      const q = new Int8Array(out.buffer, valuesAt, n);
      for (let c = 0; c < chunks; c++) {
        const start = c * chunkSize;
        const end = Math.min(n, start + chunkSize);
        const scale = Math.fround(chunkMaxAbs(delta, start, end) / LEVELS);
        scales[c] = scale;
        if (scale === 0) continue;
        const inv = 1 / scale;
        for (let i = start; i < end; i++) {
          const v = Math.floor(delta[i]! * inv + rng.next());
          q[i] = v > LEVELS ? LEVELS : v < -LEVELS ? -LEVELS : v;
        }
      }
      return out;
    },

    decode(bytes, length) {
      const { scales, q, chunk } = parse(bytes, length);
      const out = new Float32Array(length);
      for (let c = 0, start = 0; start < length; c++, start += chunk) {
        const s = scales[c]!;
        const end = Math.min(length, start + chunk);
        for (let i = start; i < end; i++) out[i] = q[i]! * s;
      }
      return out;
    },

    accumulate(bytes, length, target, weight) {
      const { scales, q, chunk } = parse(bytes, length);
      for (let c = 0, start = 0; start < length; c++, start += chunk) {
        const s = weight * scales[c]!;
        const end = Math.min(length, start + chunk);
        for (let i = start; i < end; i++) target[i]! += s * q[i]!;
      }
    },

    // The chunk size is read from the wire, so the largest valid encoding has one scale per value.
    maxEncodedBytes: (length) => HEADER_BYTES + 4 + length * 5,
  };
}

/**
 * Index of the first byte 0x80 (-128) among `length` bytes at `at` (a multiple of 4), or -1.
 * Tests four bytes per step: a byte of `x = w ^ 0x80808080` is zero exactly where `w` held
 * 0x80, and `(x - 0x01010101) & ~x & 0x80808080` is non-zero iff some byte of `x` is zero.
 */
function findMinus128(aligned: Uint8Array, at: number, length: number): number {
  const w = new Int32Array(aligned.buffer, aligned.byteOffset + at, length >>> 2);
  let j = 0;
  for (; j < w.length; j++) {
    const x = w[j]! ^ 0x80808080;
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
  }
  const q = new Uint8Array(aligned.buffer, aligned.byteOffset + at, length);
  for (let i = j * 4; i < length; i++) if (q[i] === 0x80) return i;
  return -1;
}
