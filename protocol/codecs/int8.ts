import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';
import { FormatId, HEADER_BYTES, expectSize, readHeader, writeHeader, type Codec } from './codec.js';

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
  const spec = chunkSize === DEFAULT_INT8_CHUNK ? 'int8' : `int8@${chunkSize}`;

  function parse(bytes: Uint8Array, length: number): { scales: Float32Array; q: Int8Array; chunk: number } {
    const { aligned, view } = readHeader(bytes, FormatId.Int8, length);
    if (aligned.byteLength < HEADER_BYTES + 4) throw new DecodeError(DecodeReason.Malformed, 'int8 update is truncated');
    const chunk = view.getUint32(HEADER_BYTES, true);
    if (chunk < 1 || chunk > 1 << 24) throw new DecodeError(DecodeReason.Malformed, `int8 chunk size ${chunk} is out of range`);
    const chunks = Math.ceil(length / chunk);
    const scalesAt = HEADER_BYTES + 4;
    const valuesAt = scalesAt + chunks * 4;
    expectSize(aligned, valuesAt + length);
    const scales = new Float32Array(aligned.buffer, aligned.byteOffset + scalesAt, chunks);
    for (let c = 0; c < chunks; c++) {
      const s = scales[c]!;
      if (!Number.isFinite(s) || s < 0) throw new DecodeError(DecodeReason.NonFinite, `int8 scale ${c} is ${s}`);
    }
    const q = new Int8Array(aligned.buffer, aligned.byteOffset + valuesAt, length);
    for (let i = 0; i < length; i++) {
      if (q[i] === -128) throw new DecodeError(DecodeReason.Malformed, `int8 value ${i} is -128, outside -127..127`);
    }
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
        let max = 0;
        for (let i = start; i < end; i++) {
          const a = Math.abs(delta[i]!);
          if (a > max) max = a;
        }
        if (!Number.isFinite(max)) throw new RangeError(`delta has a non-finite value in chunk ${c}`);
        const scale = Math.fround(max / LEVELS);
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
      for (let i = 0; i < length; i++) out[i] = q[i]! * scales[(i / chunk) | 0]!;
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
  };
}
