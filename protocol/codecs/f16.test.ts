import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { Rng } from '../random.js';
import { F16_MAX, f16Codec, floatsToHalves, halfToFloat } from './index.js';

function toHalf(x: number): number {
  const out = new Uint16Array(1);
  floatsToHalves(new Float32Array([x]), out);
  return out[0]!;
}

/** Every finite non-negative half value, in increasing order (index = bits). */
const positives = Array.from({ length: 0x7c00 }, (_, h) => halfToFloat(h));

/** The correctly rounded half of |x| <= 65504 by binary search: nearest, ties to the even bits. */
function referenceHalf(x: number): number {
  const a = Math.abs(x);
  let lo = 0;
  let hi = positives.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (positives[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - positives[lo]!;
  const dHi = positives[hi]! - a;
  const h = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return (x < 0 || Object.is(x, -0) ? 0x8000 : 0) | h;
}

describe('float32 to float16 conversion', () => {
  it('maps every finite half value back to its own bits', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) !== 0x7c00 && toHalf(halfToFloat(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds exact midpoints to the even neighbour, and just off them to the nearer one', () => {
    const wrong: number[] = [];
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (positives[h]! + positives[h + 1]!) / 2;
      const even = h % 2 === 0 ? h : h + 1;
      f[0] = mid;
      const exact = f[0] === mid; // a midpoint has 12 significant bits: exact in float32
      const ok = exact && toHalf(mid) === even && toHalf(-mid) === (0x8000 | even);
      u[0] = u[0]! - 1;
      const below = toHalf(f[0]!);
      u[0] = u[0]! + 2;
      if (!ok || below !== h || toHalf(f[0]!) !== h + 1) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('agrees with a reference on random floats across the whole half range', () => {
    const rng = new Rng(3);
    const xs = new Float32Array(100_000);
    for (let i = 0; i < xs.length; i++) xs[i] = (rng.next() < 0.5 ? -1 : 1) * 2 ** (rng.next() * 46 - 30);
    const hs = new Uint16Array(xs.length);
    floatsToHalves(xs, hs);
    const wrong: number[] = [];
    for (let i = 0; i < xs.length; i++) {
      if (Math.abs(xs[i]!) <= F16_MAX && hs[i] !== referenceHalf(xs[i]!)) wrong.push(xs[i]!);
    }
    expect(wrong).toEqual([]);
  });

  it('keeps the sign of zero, rounds below half the smallest subnormal to zero and saturates at 65504', () => {
    expect(toHalf(0)).toBe(0);
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(2 ** -25)).toBe(0); // tie between 0 and 2^-24: even
    expect(toHalf(Math.fround(2 ** -25 * 1.01))).toBe(1);
    expect(toHalf(1e-10)).toBe(0);
    expect(toHalf(65519)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7bff); // would round to infinity
    expect(toHalf(1e30)).toBe(0x7bff);
    expect(toHalf(-1e30)).toBe(0xfbff);
    expect(halfToFloat(0x7bff)).toBe(F16_MAX);
    expect(() => toHalf(NaN)).toThrow(RangeError);
  });

  it('has relative error at most 2^-11 on normal values and 2^-25 absolute below 2^-14', () => {
    const rng = new Rng(4);
    const xs = new Float32Array(50_000);
    for (let i = 0; i < xs.length; i++) xs[i] = rng.normal() * 2 ** (rng.next() * 40 - 25);
    const y = f16Codec.decode(f16Codec.encode(xs, rng), xs.length);
    const wrong: number[] = [];
    for (let i = 0; i < xs.length; i++) {
      const a = Math.abs(xs[i]!);
      if (a <= F16_MAX && Math.abs(y[i]! - xs[i]!) > (a >= 2 ** -14 ? a * 2 ** -11 : 2 ** -25)) wrong.push(xs[i]!);
    }
    expect(wrong).toEqual([]);
  });
});

describe('f16 decoding', () => {
  it('rejects infinities and NaNs anywhere, naming the value', () => {
    const bytes = f16Codec.encode(new Float32Array(9).fill(0.5), new Rng(1));
    for (const [at, bits] of [[0, 0x7c00], [4, 0xfc00], [8, 0x7e00], [8, 0x7c01]] as const) {
      const bad = new Uint8Array(bytes);
      new DataView(bad.buffer).setUint16(8 + 2 * at, bits, true);
      expect(() => f16Codec.decode(bad, 9)).toThrow(DecodeError);
      expect(() => f16Codec.decode(bad, 9)).toThrow(`f16 value ${at} is not finite`);
    }
  });
});
