import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { Rng } from '../random.js';
import { f32Codec, int8Codec, parseCodec, type Codec } from './index.js';

/** Properties every codec must have (a contract suite, as aedes-persistence's abstract tests). */
interface Contract {
  codec: Codec;
  /** Max |decoded - x| allowed for a vector whose values are within [-1, 1]. */
  errorBound: number;
  stochastic: boolean;
}

const contracts: Contract[] = [
  { codec: f32Codec, errorBound: 0, stochastic: false },
  { codec: int8Codec(), errorBound: 1 / 127, stochastic: true },
  { codec: int8Codec(64), errorBound: 1 / 127, stochastic: true },
];

function randomVector(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.next() * 2 - 1;
  v[0] = 1; // so each chunk's max is near 1 and the bound above is the chunk scale
  return v;
}

describe.each(contracts)('codec $codec.spec', ({ codec, errorBound, stochastic }) => {
  it('round-trips within its error bound and exact length', () => {
    // Prepare
    const x = randomVector(5000, 1);
    // Execute
    const bytes = codec.encode(x, new Rng(2));
    const y = codec.decode(bytes, x.length);
    // Assert
    expect(y.length).toBe(x.length);
    let maxErr = 0;
    for (let i = 0; i < x.length; i++) maxErr = Math.max(maxErr, Math.abs(y[i]! - x[i]!));
    expect(maxErr).toBeLessThanOrEqual(errorBound + 1e-7);
  });

  it('accumulates exactly what decode returns, scaled by the weight', () => {
    const x = randomVector(3000, 3);
    const bytes = codec.encode(x, new Rng(4));
    const target = new Float64Array(x.length).fill(1);
    codec.accumulate(bytes, x.length, target, 0.5);
    const y = codec.decode(bytes, x.length);
    for (let i = 0; i < x.length; i += 97) expect(target[i]).toBeCloseTo(1 + 0.5 * y[i]!, 6);
  });

  it.runIf(stochastic)('is unbiased: the mean error over many encodings goes to zero', () => {
    const x = randomVector(256, 5);
    const mean = new Float64Array(x.length);
    const rng = new Rng(6);
    const trials = 2000;
    for (let t = 0; t < trials; t++) codec.accumulate(codec.encode(x, rng), x.length, mean, 1 / trials);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(mean[i]! - x[i]!));
    // One encoding errs by up to 1/127; the mean of 2000 by about (1/127)/sqrt(2000) per coordinate.
    expect(worst).toBeLessThan(0.0015);
  });

  it('rejects another length, truncated bytes, garbage and non-finite values with a typed error', () => {
    const x = randomVector(2048, 7);
    const bytes = codec.encode(x, new Rng(8));
    const reasons = (b: Uint8Array, n = x.length): string => {
      try {
        codec.decode(b, n);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        return (e as DecodeError).reason;
      }
      return 'accepted';
    };
    expect(reasons(bytes, x.length - 1)).toBe('bad-length');
    expect(reasons(bytes.subarray(0, bytes.length - 1))).toBe('bad-length');
    expect(reasons(bytes.subarray(0, 3))).toBe('malformed');
    expect(reasons(new Uint8Array(bytes.length).fill(0xab))).toBe('bad-codec');
    const extra = new Uint8Array(bytes.length + 4);
    extra.set(bytes);
    expect(reasons(extra)).toBe('bad-length');
    // A NaN where the codec keeps floats (the value for f32, the first scale for int8).
    const poisoned = new Uint8Array(bytes);
    new DataView(poisoned.buffer).setFloat32(codec.spec === 'f32' ? 8 : 12, NaN, true);
    expect(reasons(poisoned)).toBe('non-finite');
    // Decoding a rejected update leaves the aggregate untouched.
    const target = new Float64Array(x.length);
    expect(() => codec.accumulate(poisoned, x.length, target, 1)).toThrow(DecodeError);
    expect(target.every((v) => v === 0)).toBe(true);
  });

  it('decodes from an unaligned network buffer', () => {
    const x = randomVector(100, 9);
    const bytes = codec.encode(x, new Rng(10));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(codec.decode(shifted.subarray(1), x.length)).toEqual(codec.decode(bytes, x.length));
  });
});

describe('codec sizes and specs', () => {
  it('int8 is at least 3.9x smaller than f32 on a 200K-parameter model', () => {
    const x = randomVector(199_210, 11);
    const ratio = f32Codec.encode(x, new Rng(1)).length / int8Codec().encode(x, new Rng(1)).length;
    expect(ratio).toBeGreaterThanOrEqual(3.9);
  });

  it('parses known specs and rejects unknown ones', () => {
    expect(parseCodec('f32').spec).toBe('f32');
    expect(parseCodec('int8').spec).toBe('int8');
    expect(parseCodec('int8@256').spec).toBe('int8@256');
    expect(() => parseCodec('int9')).toThrow(/unknown codec/);
    expect(() => parseCodec('int8@0')).toThrow(/chunk size/);
  });

  it('int8 refuses the value -128, which it never writes', () => {
    const x = randomVector(10, 12);
    const bytes = int8Codec().encode(x, new Rng(1));
    bytes[bytes.length - 1] = 0x80;
    expect(() => int8Codec().decode(bytes, 10)).toThrow(/-128/);
  });
});
