import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { Rng } from '../random.js';
import { int4Codec, int8Codec, parseCodec, ternaryCodec, type Codec } from './index.js';

function reasonOf(codec: Codec, bytes: Uint8Array, n: number): string {
  try {
    codec.decode(bytes, n);
    return 'accepted';
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return `${(e as DecodeError).reason}: ${(e as DecodeError).message}`;
  }
}

const x = new Float32Array([0.3, -1, 0.25, 0.9, -0.6, 0.05, 0.7]); // odd length: a padding nibble, 2 bits of padding codes
const HEAD = 8 + 4 + 4; // header, chunk size, one scale

describe.each([
  { codec: int8Codec(), valueBytes: 7 },
  { codec: int4Codec(), valueBytes: 4 },
  { codec: ternaryCodec(), valueBytes: 2 },
])('chunk scales of $codec.spec', ({ codec, valueBytes }) => {
  it('lays out header, chunk size, scales and packed values', () => {
    const bytes = codec.encode(x, new Rng(1));
    expect(bytes.byteLength).toBe(HEAD + valueBytes);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(codec.spec === 'int8' ? 1024 : 512);
  });

  it('rejects a negative, infinite or NaN scale, and a chunk size of 0 or beyond 2^24', () => {
    for (const scale of [-1, -Infinity, Infinity, NaN]) {
      const bytes = codec.encode(x, new Rng(1));
      new DataView(bytes.buffer).setFloat32(12, scale, true);
      expect(reasonOf(codec, bytes, x.length)).toMatch(/^non-finite: .* scale 0 is/);
    }
    for (const chunk of [0, 2 ** 24 + 1, 0xffffffff]) {
      const bytes = codec.encode(x, new Rng(1));
      new DataView(bytes.buffer).setUint32(8, chunk, true);
      expect(reasonOf(codec, bytes, x.length)).toMatch(/^malformed: .*chunk size/);
    }
  });

  it('accepts another chunk size on the wire as long as the size matches it', () => {
    const y = new Float32Array(100).map((_, i) => Math.sin(i));
    const other = parseCodec(`${codec.spec}@7`);
    const bytes = other.encode(y, new Rng(2));
    expect(codec.decode(bytes, y.length)).toEqual(other.decode(bytes, y.length));
    new DataView(bytes.buffer).setUint32(8, 8, true); // 13 scales, not 15: the size no longer fits
    expect(reasonOf(codec, bytes, y.length)).toMatch(/^bad-length/);
  });
});

describe('int4', () => {
  it('packs value 2i in the low nibble and 2i+1 in the high one, two’s complement', () => {
    const bytes = int4Codec().encode(new Float32Array([7, -7, 0, 7]), new Rng(1));
    expect(Array.from(bytes.subarray(HEAD))).toEqual([0x97, 0x70]);
    expect(int4Codec().decode(bytes, 4)).toEqual(new Float32Array([7, -7, 0, 7]));
  });

  it('rounds its scale up, so 7 levels always reach the chunk max and nothing is clamped', () => {
    const rng = new Rng(8);
    let roundedUp = 0;
    for (let t = 0; t < 2000; t++) {
      const max = Math.fround(rng.next() * 10);
      const scale = new DataView(int4Codec().encode(new Float32Array([max, -max / 3]), rng).buffer).getFloat32(12, true);
      expect(scale * 7).toBeGreaterThanOrEqual(max);
      if (scale !== Math.fround(max / 7)) roundedUp++;
    }
    expect(roundedUp).toBeGreaterThan(0); // the case exists, and is handled
  });

  it('rejects the nibble -8 in either half of a byte and a non-zero padding nibble', () => {
    const codec = int4Codec();
    const low = codec.encode(x, new Rng(1));
    low[HEAD + 1] = (low[HEAD + 1]! & 0xf0) | 0x8;
    expect(reasonOf(codec, low, x.length)).toBe('malformed: int4 value 2 is -8, outside -7..7');
    const high = codec.encode(x, new Rng(1));
    high[HEAD + 2] = (high[HEAD + 2]! & 0x0f) | 0x80;
    expect(reasonOf(codec, high, x.length)).toBe('malformed: int4 value 5 is -8, outside -7..7');
    const padded = codec.encode(x, new Rng(1));
    padded[HEAD + 3]! |= 0x10;
    expect(reasonOf(codec, padded, x.length)).toMatch(/^malformed: int4 padding/);
  });
});

describe('ternary', () => {
  it('codes 0, +s and -s as 0, 1 and 2, four to a byte', () => {
    const bytes = ternaryCodec(4, 'mean').encode(new Float32Array([1, -1, 0, 2]), new Rng(1));
    expect(new DataView(bytes.buffer).getFloat32(12, true)).toBeCloseTo(4 / 3);
    expect(bytes[HEAD]).toBe(0b01_00_10_01);
  });

  it('rejects the code 3 anywhere and non-zero padding bits', () => {
    const codec = ternaryCodec();
    for (const at of [0, 3, 5, 6]) {
      const bytes = codec.encode(x, new Rng(1));
      bytes[HEAD + (at >> 2)]! |= 3 << ((at & 3) * 2);
      expect(reasonOf(codec, bytes, x.length)).toBe(`malformed: ternary value ${at} has the invalid code 3`);
    }
    const padded = codec.encode(x, new Rng(1));
    padded[HEAD + 1]! |= 0b01_000000;
    expect(reasonOf(codec, padded, x.length)).toMatch(/^malformed: ternary padding/);
  });

  it('stochastic mode keeps |x|/s of each value; mean mode turns every non-zero into +-mean|x|', () => {
    const y = new Float32Array([0.5, -1, 0, 0.25]);
    const rng = new Rng(5);
    const kept = [0, 0, 0, 0];
    for (let t = 0; t < 4000; t++) ternaryCodec().decode(ternaryCodec().encode(y, rng), 4).forEach((v, i) => (kept[i]! += v !== 0 ? 1 : 0));
    expect(kept[0]! / 4000).toBeCloseTo(0.5, 1);
    expect(kept[1]).toBe(4000);
    expect(kept[2]).toBe(0);
    expect(kept[3]! / 4000).toBeCloseTo(0.25, 1);
    const mean = ternaryCodec(512, 'mean');
    expect(mean.decode(mean.encode(y, rng), 4)).toEqual(new Float32Array([1.75 / 3, -1.75 / 3, 0, 1.75 / 3]));
  });
});

describe('codec constructors', () => {
  it('refuse chunk sizes outside 1..2^24', () => {
    for (const make of [int8Codec, int4Codec, ternaryCodec]) {
      expect(() => make(0)).toThrow(RangeError);
      expect(() => make(1.5)).toThrow(RangeError);
      expect(() => make(2 ** 24 + 1)).toThrow(RangeError);
    }
  });
});
