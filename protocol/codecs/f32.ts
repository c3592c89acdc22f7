import { DecodeError, DecodeReason } from '../errors.js';
import { FormatId, HEADER_BYTES, expectSize, readHeader, writeHeader, type Codec } from './codec.js';

/** Lossless baseline: the delta as little-endian float32. */
export const f32Codec: Codec = {
  spec: 'f32',
  description: 'float32, lossless (4 bytes per parameter)',

  encode(delta) {
    const out = new Uint8Array(HEADER_BYTES + delta.length * 4);
    writeHeader(new DataView(out.buffer), FormatId.F32, delta.length);
    new Float32Array(out.buffer, HEADER_BYTES, delta.length).set(delta);
    return out;
  },

  decode(bytes, length) {
    return new Float32Array(values(bytes, length));
  },

  accumulate(bytes, length, target, weight) {
    const v = values(bytes, length);
    for (let i = 0; i < length; i++) target[i]! += weight * v[i]!;
  },

  maxEncodedBytes: (length) => HEADER_BYTES + length * 4,
};

function values(bytes: Uint8Array, length: number): Float32Array {
  const { aligned } = readHeader(bytes, FormatId.F32, length);
  expectSize(aligned, HEADER_BYTES + length * 4);
  const v = new Float32Array(aligned.buffer, aligned.byteOffset + HEADER_BYTES, length);
  for (let i = 0; i < length; i++) {
    if (!Number.isFinite(v[i])) throw new DecodeError(DecodeReason.NonFinite, `value ${i} is not finite`);
  }
  return v;
}
