import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';
import { FormatId, HEADER_BYTES, readHeader, writeHeader, type Codec } from './codec.js';

/** Bytes of the top-k header: the common 8, then k (u32) and the index section's size (u32). */
const TOPK_HEADER_BYTES = HEADER_BYTES + 8;
/** A u32 needs at most 5 LEB128 bytes (7 bits each). */
const MAX_VARINT_BYTES = 5;
const ABS_MASK = 0x7fffffff;
const INFINITY_BITS = 0x7f800000;

/** How many coordinates `topk:fraction` keeps out of `length`: ceil(fraction * length). */
export function keptCount(fraction: number, length: number): number {
  return Math.min(length, Math.ceil(fraction * length));
}

/**
 * Top-k sparsification (Aji & Heafield 2017; Stich et al. 2018): keeps the k = ceil(fraction
 * * n) coordinates of largest |x| and sends them as (index, value) pairs; every other
 * coordinate decodes to exactly 0. Error: kept coordinates within the value codec's bound
 * (taken over the kept values), dropped ones exactly |x|, which is <= every kept |x|.
 *
 * Layout after the header: k (u32, must equal ceil(fraction * n)), the index section's byte
 * size (u32), the indices as LEB128 varints (the first index, then the gaps to the previous
 * one, each >= 1, so indices are strictly increasing), zero padding to a multiple of 4, then
 * the k kept values encoded by the value codec (its own header, with length k).
 */
export function topkCodec(fraction: number, value: Codec): Codec {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`top-k fraction must be in (0, 1], got ${fraction}`);

  function parse(bytes: Uint8Array, length: number): { indices: Uint32Array; values: Float32Array } {
    const { aligned, view } = readHeader(bytes, FormatId.TopK, length);
    if (aligned.byteLength < TOPK_HEADER_BYTES) throw new DecodeError(DecodeReason.Malformed, 'top-k update is truncated');
    const k = view.getUint32(HEADER_BYTES, true);
    if (k > length) throw new DecodeError(DecodeReason.BadLength, `top-k update keeps ${k} of ${length} values`);
    const expected = keptCount(fraction, length);
    if (k !== expected) throw new DecodeError(DecodeReason.BadLength, `top-k update keeps ${k} values, ${fraction} of ${length} is ${expected}`);
    const indexBytes = view.getUint32(HEADER_BYTES + 4, true);
    if (indexBytes < k || indexBytes > k * MAX_VARINT_BYTES) {
      throw new DecodeError(DecodeReason.Malformed, `top-k index section of ${indexBytes} bytes cannot hold ${k} varints`);
    }
    const indexEnd = TOPK_HEADER_BYTES + indexBytes;
    const valuesAt = align4(indexEnd);
    if (valuesAt > aligned.byteLength) throw new DecodeError(DecodeReason.BadLength, `top-k index section runs past the end of the update`);
    for (let p = indexEnd; p < valuesAt; p++) {
      if (aligned[p] !== 0) throw new DecodeError(DecodeReason.Malformed, 'top-k padding after the indices is not zero');
    }
    const indices = readIndices(aligned, TOPK_HEADER_BYTES, indexEnd, k, length);
    const values = value.decode(aligned.subarray(valuesAt), k);
    return { indices, values };
  }

  return {
    spec: `topk:${fraction}+${value.spec}`,
    description: `top-k, keeps the ceil(${fraction} n) largest |x| (the others decode to exactly 0); kept values: ${value.description}`,

    encode(delta: Float32Array, rng: Rng): Uint8Array {
      const n = delta.length;
      const k = keptCount(fraction, n);
      const indices = topKIndices(delta, k);
      const kept = new Float32Array(k);
      for (let j = 0; j < k; j++) kept[j] = delta[indices[j]!]!;
      const valueBytes = value.encode(kept, rng);
      const varints = new Uint8Array(k * MAX_VARINT_BYTES);
      let p = 0;
      for (let j = 0, previous = 0; j < k; j++) {
        const index = indices[j]!;
        p = writeVarint(varints, p, index - previous);
        previous = index;
      }
      const valuesAt = align4(TOPK_HEADER_BYTES + p);
      const out = new Uint8Array(valuesAt + valueBytes.byteLength);
      const view = new DataView(out.buffer);
      writeHeader(view, FormatId.TopK, n);
      view.setUint32(HEADER_BYTES, k, true);
      view.setUint32(HEADER_BYTES + 4, p, true);
      out.set(varints.subarray(0, p), TOPK_HEADER_BYTES);
      out.set(valueBytes, valuesAt);
      return out;
    },

    decode(bytes, length) {
      const { indices, values } = parse(bytes, length);
      const out = new Float32Array(length);
      for (let j = 0; j < indices.length; j++) out[indices[j]!] = values[j]!;
      return out;
    },

    accumulate(bytes, length, target, weight) {
      const { indices, values } = parse(bytes, length);
      for (let j = 0; j < indices.length; j++) target[indices[j]!]! += weight * values[j]!;
    },

    maxEncodedBytes(length) {
      const k = keptCount(fraction, length);
      return align4(TOPK_HEADER_BYTES + k * MAX_VARINT_BYTES) + value.maxEncodedBytes(k);
    },
  };
}

/**
 * Indices of the k largest |x|, increasing; ties at the threshold go to the lower indices.
 * Radix select on the float bits instead of a sort: with the sign cleared, a float32's bits
 * order like its magnitude, so a histogram of the top 16 bits finds the bucket holding the
 * k-th largest, a second one of the low 16 bits within that bucket finds its exact value,
 * and a last pass collects the indices. Three linear passes, O(n), no allocation of size n
 * beyond the result. Throws `RangeError` on a non-finite value.
 */
export function topKIndices(delta: Float32Array, k: number): Uint32Array {
  const n = delta.length;
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`cannot keep ${k} of ${n} values`);
  const bits = new Uint32Array(delta.buffer, delta.byteOffset, n);
  const high = new Uint32Array(INFINITY_BITS >>> 16);
  for (let i = 0; i < n; i++) {
    const a = bits[i]! & ABS_MASK;
    if (a >= INFINITY_BITS) throw new RangeError(`delta value ${i} is not finite`);
    high[a >>> 16]!++;
  }
  const out = new Uint32Array(k);
  if (k === 0) return out;
  let bucket = high.length - 1;
  let above = 0;
  for (; above + high[bucket]! < k; bucket--) above += high[bucket]!;
  const low = new Uint32Array(1 << 16);
  for (let i = 0; i < n; i++) {
    const a = bits[i]! & ABS_MASK;
    if (a >>> 16 === bucket) low[a & 0xffff]!++;
  }
  let rest = 0xffff;
  for (; above + low[rest]! < k; rest--) above += low[rest]!;
  const threshold = (bucket << 16) | rest;
  let ties = k - above; // values equal to the threshold that still fit, taken in index order
  let j = 0;
  for (let i = 0; i < n && j < k; i++) {
    const a = bits[i]! & ABS_MASK;
    if (a > threshold || (a === threshold && ties-- > 0)) out[j++] = i;
  }
  return out;
}

/**
 * Reads k varint-coded indices from `bytes[start..end)`, which they must fill exactly.
 * Rejects varints that run past the end, overflow 32 bits or are overlong (a trailing zero
 * byte), a zero gap (a duplicate index) and indices >= `length`.
 */
function readIndices(bytes: Uint8Array, start: number, end: number, k: number, length: number): Uint32Array {
  const indices = new Uint32Array(k);
  let p = start;
  let index = 0;
  for (let j = 0; j < k; j++) {
    let gap = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= end) throw new DecodeError(DecodeReason.Malformed, `top-k index ${j} runs past the end of the index section`);
      const b = bytes[p++]!;
      if (shift === 28 && b > 0x0f) throw new DecodeError(DecodeReason.Malformed, `top-k index ${j} overflows 32 bits`);
      if (shift > 0 && b === 0) throw new DecodeError(DecodeReason.Malformed, `top-k index ${j} is an overlong varint`);
      gap += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    if (j > 0 && gap === 0) throw new DecodeError(DecodeReason.Malformed, `top-k index ${j} repeats index ${index}`);
    index += gap;
    if (index >= length) throw new DecodeError(DecodeReason.Malformed, `top-k index ${j} is ${index}, outside 0..${length - 1}`);
    indices[j] = index;
  }
  if (p !== end) throw new DecodeError(DecodeReason.Malformed, `top-k index section has ${end - p} bytes after its ${k} indices`);
  return indices;
}

function writeVarint(out: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  return p;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
