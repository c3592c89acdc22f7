import { deflateSync, inflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { Rng } from '../random.js';
import { f32Codec, int8Codec, keptCount, parseCodec, type Codec } from './index.js';

/** Properties every codec must have (a contract suite, as aedes-persistence's abstract tests). */
interface Contract {
  spec: string;
  /**
   * Max |decoded - x| on the coordinates the codec keeps (all of them unless top-k), given the
   * largest and smallest |x| among those: each codec's stated bound.
   */
  bound: (max: number, min: number) => number;
  /** E[decode(encode(x))] = x on the kept coordinates (stochastic rounding). */
  unbiased: boolean;
  /** Top-k fraction: dropped coordinates decode to exactly 0 and were the smallest. */
  keep?: number;
  /** Where the (value) codec keeps floats, to plant a NaN there. */
  floats: 'f32' | 'f16' | 'scales';
}

const lossless = (): number => 0;
const contracts: Contract[] = [
  { spec: 'f32', bound: lossless, unbiased: false, floats: 'f32' },
  { spec: 'f16', bound: (max) => max * 2 ** -11, unbiased: false, floats: 'f16' },
  { spec: 'int8', bound: (max) => max / 127, unbiased: true, floats: 'scales' },
  { spec: 'int8@64', bound: (max) => max / 127, unbiased: true, floats: 'scales' },
  { spec: 'int4', bound: (max) => max / 7, unbiased: true, floats: 'scales' },
  { spec: 'int4@63', bound: (max) => max / 7, unbiased: true, floats: 'scales' },
  { spec: 'ternary', bound: (max) => max, unbiased: true, floats: 'scales' },
  { spec: 'ternary@30', bound: (max) => max, unbiased: true, floats: 'scales' },
  { spec: 'topk:0.01+f32', bound: lossless, unbiased: false, keep: 0.01, floats: 'f32' },
  { spec: 'topk:0.01+f16', bound: (max) => max * 2 ** -11, unbiased: false, keep: 0.01, floats: 'f16' },
  { spec: 'topk:0.05+int8', bound: (max) => max / 127, unbiased: true, keep: 0.05, floats: 'scales' },
  { spec: 'topk:0.1+int4', bound: (max) => max / 7, unbiased: true, keep: 0.1, floats: 'scales' },
  // Under top-k, ternary is STC's deterministic mean: error <= max - min of the kept |x|.
  { spec: 'topk:0.001+ternary', bound: (max, min) => max - min, unbiased: false, keep: 0.001, floats: 'scales' },
  { spec: 'topk:0.3+ternary@16', bound: (max, min) => max - min, unbiased: false, keep: 0.3, floats: 'scales' },
  { spec: 'f32+deflate', bound: lossless, unbiased: false, floats: 'f32' },
  { spec: 'int8+deflate', bound: (max) => max / 127, unbiased: true, floats: 'scales' },
  { spec: 'ternary+deflate', bound: (max) => max, unbiased: true, floats: 'scales' },
  { spec: 'topk:0.01+int8+deflate', bound: (max) => max / 127, unbiased: true, keep: 0.01, floats: 'scales' },
  { spec: 'int8+ef', bound: (max) => max / 127, unbiased: true, floats: 'scales' },
  { spec: 'topk:0.01+f16+deflate+ef', bound: (max) => max * 2 ** -11, unbiased: false, keep: 0.01, floats: 'f16' },
];

export function randomVector(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.next() * 2 - 1;
  if (n > 0) v[0] = 1; // so some chunk's max is 1
  return v;
}

/** Indices the codec must keep: all, or the k of largest |x| (ties to the lower index), by plain sorting. */
function expectedKept(x: Float32Array, keep: number | undefined): Set<number> {
  const all = Array.from(x.keys());
  if (keep === undefined) return new Set(all);
  all.sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b);
  return new Set(all.slice(0, keptCount(keep, x.length)));
}

/** The reason a decode fails with, or 'accepted'. */
function reasonOf(codec: Codec, bytes: Uint8Array, n: number): string {
  try {
    codec.decode(bytes, n);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).reason;
  }
  return 'accepted';
}

/** A copy of an update with a NaN where its codec keeps floats, re-wrapped through top-k and deflate. */
function poison(spec: string, floats: Contract['floats'], bytes: Uint8Array): Uint8Array {
  if (spec.endsWith('+ef')) return poison(spec.slice(0, -3), floats, bytes);
  if (spec.endsWith('+deflate')) {
    const inner = poison(spec.slice(0, -'+deflate'.length), floats, inflateSync(bytes.subarray(16)));
    const stream = deflateSync(inner);
    const out = new Uint8Array(16 + stream.length);
    out.set(bytes.subarray(0, 8));
    new DataView(out.buffer).setUint32(8, inner.length, true);
    new DataView(out.buffer).setUint32(12, stream.length, true);
    out.set(stream, 16);
    return out;
  }
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  const at = spec.startsWith('topk:') ? (16 + view.getUint32(12, true) + 3) & ~3 : 0;
  if (floats === 'f32') view.setFloat32(at + 8, NaN, true);
  else if (floats === 'f16') view.setUint16(at + 8, 0x7e00, true);
  else view.setFloat32(at + 12, NaN, true);
  return out;
}

describe.each(contracts)('codec $spec', ({ spec, bound, unbiased, keep, floats }) => {
  const codec = parseCodec(spec);

  it('is named by its canonical spec', () => {
    expect(codec.spec).toBe(spec);
    expect(parseCodec(codec.spec).spec).toBe(spec);
    expect(codec.errorFeedback === true).toBe(spec.endsWith('+ef'));
  });

  it('round-trips within its error bound, at exactly the length, dropping only the smallest', () => {
    // Prepare
    const x = randomVector(5000, 1);
    const kept = expectedKept(x, keep);
    // Execute
    const bytes = codec.encode(x, new Rng(2));
    const y = codec.decode(bytes, x.length);
    // Assert
    expect(y.length).toBe(x.length);
    let max = 0;
    let min = Infinity;
    for (const i of kept) {
      max = Math.max(max, Math.abs(x[i]!));
      min = Math.min(min, Math.abs(x[i]!));
    }
    let maxErr = 0;
    for (let i = 0; i < x.length; i++) {
      if (kept.has(i)) maxErr = Math.max(maxErr, Math.abs(y[i]! - x[i]!));
      else expect(y[i], `dropped coordinate ${i}`).toBe(0);
    }
    expect(maxErr).toBeLessThanOrEqual(bound(max, min) + 1e-7);
    expect(bytes.byteLength).toBeLessThanOrEqual(codec.maxEncodedBytes(x.length));
  });

  it('handles an empty vector and an all-zero one', () => {
    expect(codec.decode(codec.encode(new Float32Array(0), new Rng(1)), 0)).toEqual(new Float32Array(0));
    const zeros = new Float32Array(777);
    expect(codec.decode(codec.encode(zeros, new Rng(1)), zeros.length)).toEqual(zeros);
  });

  it('refuses to encode a non-finite delta, or (f32, which copies it as is) to decode one', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = randomVector(300, 13);
      x[150] = bad;
      if (spec.startsWith('f32')) expect(reasonOf(codec, codec.encode(x, new Rng(1)), x.length)).toBe('non-finite');
      else expect(() => codec.encode(x, new Rng(1))).toThrow(RangeError);
    }
  });

  it('accumulates exactly what decode returns, scaled by the weight', () => {
    const x = randomVector(3000, 3);
    const bytes = codec.encode(x, new Rng(4));
    const target = new Float64Array(x.length).fill(1);
    codec.accumulate(bytes, x.length, target, 0.5);
    const y = codec.decode(bytes, x.length);
    for (let i = 0; i < x.length; i++) expect(Math.abs(target[i]! - (1 + 0.5 * y[i]!))).toBeLessThan(1e-6);
  });

  it.runIf(unbiased)('is unbiased: the mean over many encodings goes to x on the kept coordinates', () => {
    // Prepare
    const x = randomVector(256, 5);
    const kept = expectedKept(x, keep);
    const mean = new Float64Array(x.length);
    const rng = new Rng(6);
    const trials = 2000;
    // Execute
    for (let t = 0; t < trials; t++) codec.accumulate(codec.encode(x, rng), x.length, mean, 1 / trials);
    // Assert: one coordinate's error has std <= bound / 2, the mean of `trials` of them bound / (2 sqrt(trials)).
    const sd = bound(1, 0) / 2 / Math.sqrt(trials);
    let worst = 0;
    let shrink = 0;
    for (const i of kept) {
      worst = Math.max(worst, Math.abs(mean[i]! - x[i]!));
      shrink += (mean[i]! - x[i]!) * Math.sign(x[i]!);
    }
    expect(worst).toBeLessThan(5 * sd);
    // A systematic pull towards 0 (or away) would show in the average over coordinates.
    expect(Math.abs(shrink / kept.size)).toBeLessThan((5 * sd) / Math.sqrt(kept.size));
  });

  it('rejects another length, truncated or extended bytes, garbage and non-finite floats with a typed error', () => {
    const x = randomVector(2048, 7);
    const bytes = codec.encode(x, new Rng(8));
    expect(reasonOf(codec, bytes, x.length)).toBe('accepted');
    expect(reasonOf(codec, bytes, x.length - 1)).toBe('bad-length');
    expect(reasonOf(codec, bytes, x.length + 1)).toBe('bad-length');
    expect(reasonOf(codec, bytes.subarray(0, bytes.length - 1), x.length)).toBe('bad-length');
    expect(reasonOf(codec, bytes.subarray(0, 3), x.length)).toBe('malformed');
    expect(reasonOf(codec, new Uint8Array(0), x.length)).toBe('malformed');
    expect(reasonOf(codec, new Uint8Array(bytes.length).fill(0xab), x.length)).toBe('bad-codec');
    const extra = new Uint8Array(bytes.length + 4);
    extra.set(bytes);
    expect(reasonOf(codec, extra, x.length)).toBe('bad-length');
    const poisoned = poison(spec, floats, bytes);
    expect(reasonOf(codec, poisoned, x.length)).toBe('non-finite');
    // Decoding a rejected update leaves the aggregate untouched.
    const target = new Float64Array(x.length);
    for (const bad of [poisoned, extra, bytes.subarray(0, bytes.length - 1)]) {
      expect(() => codec.accumulate(bad, x.length, target, 1)).toThrow(DecodeError);
    }
    expect(target.every((v) => v === 0)).toBe(true);
  });

  it("rejects every other codec's bytes as bad-codec", () => {
    // The family: the outermost format, whatever its chunk size, value codec or error feedback.
    const family = (s: string): string => (s.includes('+deflate') ? 'deflate' : s.startsWith('topk:') ? 'topk' : s.replace(/@\d+|\+ef$/g, ''));
    const x = randomVector(500, 14);
    for (const other of ['f32', 'f16', 'int8', 'int4', 'ternary', 'topk:0.5+f32', 'f32+deflate']) {
      if (family(other) === family(spec)) continue;
      expect(reasonOf(codec, parseCodec(other).encode(x, new Rng(1)), x.length), other).toBe('bad-codec');
    }
  });

  it('decodes from an unaligned network buffer', () => {
    const x = randomVector(100, 9);
    const bytes = codec.encode(x, new Rng(10));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(codec.decode(shifted.subarray(1), x.length)).toEqual(codec.decode(bytes, x.length));
  });
});

describe('codec sizes', () => {
  it('int8 is at least 3.9x smaller than f32 on a 200K-parameter model', () => {
    const x = randomVector(199_210, 11);
    const ratio = f32Codec.encode(x, new Rng(1)).length / int8Codec().encode(x, new Rng(1)).length;
    expect(ratio).toBeGreaterThanOrEqual(3.9);
  });

  it('f16, int4, ternary and top-k shrink a 200K-parameter update 2x, 7.8x, 15x and over 80x', () => {
    const x = randomVector(199_210, 11);
    const f32 = f32Codec.encode(x, new Rng(1)).length;
    const ratio = (spec: string): number => f32 / parseCodec(spec).encode(x, new Rng(1)).length;
    expect(ratio('f16')).toBeGreaterThan(1.99);
    expect(ratio('int4')).toBeGreaterThan(7.8);
    expect(ratio('ternary')).toBeGreaterThan(15);
    expect(ratio('topk:0.01+int8')).toBeGreaterThan(80);
  });

  it('int8 refuses the value -128, which it never writes, wherever it is', () => {
    const x = randomVector(10, 12);
    for (const at of [0, 3, 4, 9]) {
      const bytes = int8Codec().encode(x, new Rng(1));
      bytes[bytes.length - 10 + at] = 0x80;
      expect(() => int8Codec().decode(bytes, 10)).toThrow(`int8 value ${at} is -128`);
    }
  });
});
