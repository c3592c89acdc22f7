import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { Rng } from '../random.js';
import { FormatId, f32Codec, int8Codec, parseCodec, ternaryCodec, topKIndices, topkCodec } from './index.js';

/** Indices of the k largest |x|, ties to the lower index, by sorting everything. */
function naiveTopK(x: Float32Array, k: number): number[] {
  const order = Array.from(x.keys()).sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}

describe('top-k selection', () => {
  it('picks the same indices as a full sort, ties going to the lower index', () => {
    const rng = new Rng(1);
    const sizes: [number, number][] = [[0, 0], [1, 1], [10, 0], [10, 10], [1000, 1], [1000, 10], [1000, 999], [5000, 137]];
    for (const [n, k] of sizes) {
      // Few distinct magnitudes, both signs and zeros: plenty of ties at the threshold.
      const coarse = new Float32Array(n).map(() => (rng.int(7) - 3) * 0.5);
      const fine = new Float32Array(n).map(() => rng.normal() * 1e-3);
      for (const x of [coarse, fine]) expect(Array.from(topKIndices(x, k))).toEqual(naiveTopK(x, k));
    }
  });

  it('orders magnitudes across the whole float range, subnormals to the largest float', () => {
    const x = new Float32Array([1e-45, -3e38, 0, 1e-40, -1, 65504, -0, 2e-38, 3.4e38]);
    expect(Array.from(topKIndices(x, 4))).toEqual([1, 4, 5, 8]);
    expect(Array.from(topKIndices(x, 7))).toEqual([0, 1, 3, 4, 5, 7, 8]);
  });

  it('refuses a non-finite value and an impossible k', () => {
    expect(() => topKIndices(new Float32Array([1, NaN]), 1)).toThrow(RangeError);
    expect(() => topKIndices(new Float32Array([1, -Infinity]), 1)).toThrow(RangeError);
    expect(() => topKIndices(new Float32Array(3), 4)).toThrow(RangeError);
  });
});

describe('top-k wire format', () => {
  it('sends k, the index section size, the gaps as LEB128, padding and the values with their own header', () => {
    const x = new Float32Array(400);
    x[3] = 1;
    x[200] = -2;
    x[399] = 3;
    const bytes = topkCodec(0.0075, f32Codec).encode(x, new Rng(1)); // k = ceil(3) = 3
    const view = new DataView(bytes.buffer);
    expect(bytes[0]).toBe(FormatId.TopK);
    expect(view.getUint32(8, true)).toBe(3);
    expect(view.getUint32(12, true)).toBe(5);
    // First index 3, then gaps 197 and 199 (two LEB128 bytes each), zero padding to 24.
    expect(Array.from(bytes.subarray(16, 24))).toEqual([3, 0xc5, 0x01, 0xc7, 0x01, 0, 0, 0]);
    expect(bytes[24]).toBe(FormatId.F32);
    expect(view.getUint32(28, true)).toBe(3);
    expect(Array.from(new Float32Array(bytes.buffer, 32, 3))).toEqual([1, -2, 3]);
    expect(bytes.byteLength).toBe(44);
  });
});

const N = 1000;
const K = 10; // ceil(0.01 * 1000)
const codec = topkCodec(0.01, f32Codec);

function varint(v: number): number[] {
  const out: number[] = [];
  for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
  out.push(v);
  return out;
}

/** Indices 5..13 and 999: a first index, eight gaps of 1 and one of 986. */
const GOOD_INDEX = [...varint(5), ...Array<number>(8).fill(1), ...varint(986)];

/** A top-k update put together by hand, so every field can be wrong on its own. */
function message(parts: { k?: number; index?: number[]; indexBytes?: number; pad?: number[]; values?: Uint8Array } = {}): Uint8Array {
  const k = parts.k ?? K;
  const index = parts.index ?? GOOD_INDEX;
  const pad = parts.pad ?? Array<number>(((16 + index.length + 3) & ~3) - 16 - index.length).fill(0);
  const values = parts.values ?? f32Codec.encode(new Float32Array(k).fill(0.5), new Rng(1));
  const out = new Uint8Array(16 + index.length + pad.length + values.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, FormatId.TopK);
  view.setUint32(4, N, true);
  view.setUint32(8, k, true);
  view.setUint32(12, parts.indexBytes ?? index.length, true);
  out.set(index, 16);
  out.set(pad, 16 + index.length);
  out.set(values, 16 + index.length + pad.length);
  return out;
}

describe('top-k decoding of hostile input', () => {
  it('accepts the hand-made update', () => {
    const y = codec.decode(message(), N);
    const expected = new Float32Array(N);
    for (const i of [5, 6, 7, 8, 9, 10, 11, 12, 13, 999]) expected[i] = 0.5;
    expect(y).toEqual(expected);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['k > n', message({ k: N + 1 }), /^bad-length: .*keeps 1001 of 1000/],
    ['k other than ceil(fraction * n)', message({ k: K + 1 }), /^bad-length: .*0.01 of 1000 is 10/],
    ['an index section too small for k varints', message({ indexBytes: K - 1 }), /^malformed: .*cannot hold/],
    ['an index section too large for k varints', message({ indexBytes: 5 * K + 1 }), /^malformed: .*cannot hold/],
    ['an index section past the end of the update', message().subarray(0, 20), /^bad-length: .*runs past the end/],
    ['a varint over 32 bits', message({ index: [0xff, 0xff, 0xff, 0xff, 0x1f, ...GOOD_INDEX.slice(1)] }), /^malformed: .*index 0 overflows/],
    ['a varint of 6 bytes', message({ index: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01, ...GOOD_INDEX.slice(1)] }), /^malformed: .*overflows/],
    ['a varint running past the index section', message({ index: GOOD_INDEX.slice(0, -1) }), /^malformed: .*index 9 runs past the end/],
    ['an overlong varint', message({ index: [0x85, 0x00, ...GOOD_INDEX.slice(1)] }), /^malformed: .*overlong/],
    ['a duplicate index (gap 0; gaps cannot go backwards)', message({ index: [5, 0, ...GOOD_INDEX.slice(2)] }), /^malformed: .*index 1 repeats index 5/],
    ['an index >= n', message({ index: [...GOOD_INDEX.slice(0, -2), ...varint(987)] }), /^malformed: .*index 9 is 1000, outside 0..999/],
    ['an index near 2^32', message({ index: [0xff, 0xff, 0xff, 0xff, 0x0f, ...GOOD_INDEX.slice(1)] }), /^malformed: .*index 0 is 4294967295/],
    ['bytes after the k-th index', message({ index: [...GOOD_INDEX, 1], indexBytes: GOOD_INDEX.length + 1 }), /^malformed: .*1 bytes after its 10 indices/],
    ['non-zero padding', message({ pad: [7, 7, 7].slice(0, ((16 + GOOD_INDEX.length + 3) & ~3) - 16 - GOOD_INDEX.length) }), /^malformed: .*padding/],
    ['values in another format', message({ values: int8Codec().encode(new Float32Array(K), new Rng(1)) }), /^bad-codec/],
    ['fewer values than k', message({ values: f32Codec.encode(new Float32Array(K - 1), new Rng(1)) }), /^bad-length/],
    ['a NaN value', message({ values: f32Codec.encode(new Float32Array(K).fill(NaN), new Rng(1)) }), /^non-finite/],
  ];

  it.each(cases)('rejects %s with a typed error and leaves the aggregate untouched', (_name, bytes, expected) => {
    // Execute
    let caught: unknown;
    try {
      codec.decode(bytes, N);
    } catch (e) {
      caught = e;
    }
    const target = new Float64Array(N);
    expect(() => codec.accumulate(bytes, N, target, 1)).toThrow(DecodeError);
    // Assert
    expect(caught).toBeInstanceOf(DecodeError);
    expect(`${(caught as DecodeError).reason}: ${(caught as DecodeError).message}`).toMatch(expected);
    expect(target.every((v) => v === 0)).toBe(true);
  });
});

describe('ternary under top-k', () => {
  it("is STC's deterministic mean: on a Gaussian delta it errs less than TernGrad's stochastic scale", () => {
    // Prepare
    const rng = new Rng(9);
    const x = new Float32Array(100_000).map(() => rng.normal());
    const squaredError = (y: Float32Array): number => {
      let e = 0;
      for (let i = 0; i < x.length; i++) e += (y[i]! - x[i]!) ** 2;
      return e;
    };
    const stc = parseCodec('topk:0.01+ternary');
    const stochastic = topkCodec(0.01, ternaryCodec());
    // Execute
    const stcError = squaredError(stc.decode(stc.encode(x, rng), x.length));
    const stochasticError = squaredError(stochastic.decode(stochastic.encode(x, rng), x.length));
    const dropOnly = squaredError(parseCodec('topk:0.01+f32').decode(parseCodec('topk:0.01+f32').encode(x, rng), x.length));
    // Assert: STC adds little to what top-k itself drops; the stochastic variant adds much more.
    expect(stcError).toBeLessThan(dropOnly * 1.01);
    expect(stochasticError).toBeGreaterThan(stcError * 1.02);
  });
});
