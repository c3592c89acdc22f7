import { DecodeError, DecodeReason } from '../errors.js';
import { FormatId, HEADER_BYTES, expectSize, readHeader, writeHeader, type Codec } from './codec.js';

/** Largest finite IEEE 754 half: (2 - 2^-10) * 2^15. */
export const F16_MAX = 65504;
const F16_MAX_BITS = 0x7bff;
const EXP_MASK = 0x7c00;
const TWO_POW_24 = 16777216;
const TWO_POW_52 = 4503599627370496;

/**
 * Half-precision floats (IEEE 754 binary16), round to nearest even: 2 bytes per parameter.
 * Relative error <= 2^-11 for |x| >= 2^-14, absolute error <= 2^-25 below (subnormals);
 * finite values beyond +-65504 saturate there instead of becoming infinite. Deterministic.
 * Layout after the header: values (u16 little-endian x length); an infinite or NaN half is
 * rejected on decode.
 */
export const f16Codec: Codec = {
  spec: 'f16',
  description: 'float16, round to nearest even (relative error <= 2^-11, <= 2^-25 absolute below 2^-14; saturates at 65504)',

  encode(delta) {
    const n = delta.length;
    const out = new Uint8Array(HEADER_BYTES + n * 2);
    writeHeader(new DataView(out.buffer), FormatId.F16, n);
    floatsToHalves(delta, new Uint16Array(out.buffer, HEADER_BYTES, n));
    return out;
  },

  decode(bytes, length) {
    const h = halves(bytes, length);
    const out = new Float32Array(length);
    const table = halfTable();
    for (let i = 0; i < length; i++) out[i] = table[h[i]!]!;
    return out;
  },

  accumulate(bytes, length, target, weight) {
    const h = halves(bytes, length);
    const table = halfTable();
    for (let i = 0; i < length; i++) target[i]! += weight * table[h[i]!]!;
  },

  maxEncodedBytes: (length) => HEADER_BYTES + length * 2,
};

/**
 * Converts float32 to half bits with round-to-nearest-even, on the float's bits (after
 * F. Giesen's `float_to_half_fast3_rtne`). Throws `RangeError` on NaN or infinity: a
 * non-finite delta is a device bug that no encoding should hide.
 */
export function floatsToHalves(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const u = bits[i]!;
    const a = u & 0x7fffffff;
    let h: number;
    if (a >= 0x7f800000) {
      throw new RangeError(`delta value ${i} is not finite`);
    } else if (a < 0x38800000) {
      // Below 2^-14 the half is subnormal: m * 2^-24 with m = round(|x| * 2^24). |x| * 2^24 is
      // exact and < 2^10, and adding 2^52 in double precision rounds it to an integer, ties to even.
      h = Math.abs(src[i]!) * TWO_POW_24 + TWO_POW_52 - TWO_POW_52;
    } else {
      // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits: add 0xfff, plus
      // one more when the kept mantissa is odd, so that exact ties go to the even neighbour.
      h = (a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13;
      if (h > F16_MAX_BITS) h = F16_MAX_BITS;
    }
    dst[i] = h | ((u >>> 16) & 0x8000);
  }
}

/** Value of a half given its bits, by table (256 KB, built on first use). */
export function halfToFloat(h: number): number {
  return halfTable()[h & 0xffff]!;
}

let table: Float32Array | undefined;

function halfTable(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m === 0 ? Infinity : NaN) : (1024 + m) * 2 ** (e - 25);
    t[h] = h & 0x8000 ? -v : v;
  }
  table = t;
  return t;
}

function halves(bytes: Uint8Array, length: number): Uint16Array {
  const { aligned } = readHeader(bytes, FormatId.F16, length);
  expectSize(aligned, HEADER_BYTES + length * 2);
  const h = new Uint16Array(aligned.buffer, aligned.byteOffset + HEADER_BYTES, length);
  for (let i = 0; i < length; i++) {
    if ((h[i]! & EXP_MASK) === EXP_MASK) throw new DecodeError(DecodeReason.NonFinite, `f16 value ${i} is not finite`);
  }
  return h;
}
