import { deflateSync, inflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { Rng } from '../random.js';
import { FormatId, deflateCodec, f32Codec, int8Codec, parseCodec } from './index.js';

const N = 1000;
const codec = parseCodec('int8+deflate');

/** A deflate update put together by hand: header, claimed inner size, stream size, stream. */
function message(stream: Uint8Array, innerBytes: number, n = N): Uint8Array {
  const out = new Uint8Array(16 + stream.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, FormatId.Deflate);
  view.setUint32(4, n, true);
  view.setUint32(8, innerBytes, true);
  view.setUint32(12, stream.length, true);
  out.set(stream, 16);
  return out;
}

function rejection(bytes: Uint8Array): string {
  const target = new Float64Array(N);
  try {
    codec.accumulate(bytes, N, target, 1);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect(target.every((v) => v === 0)).toBe(true);
    return `${(e as DecodeError).reason}: ${(e as DecodeError).message}`;
  }
  return 'accepted';
}

const x = new Float32Array(N).map((_, i) => Math.sin(i) * 0.01);
const inner = int8Codec().encode(x, new Rng(1));

describe('+deflate', () => {
  it('wraps the inner bytes losslessly and smaller when they compress', () => {
    const bytes = codec.encode(new Float32Array(N), new Rng(1));
    expect(bytes.length).toBeLessThan(100); // 1,016 inner bytes, nearly all zero
    const y = new Float32Array(N).map((_, i) => i % 3);
    expect(deflateCodec(f32Codec).decode(deflateCodec(f32Codec).encode(y, new Rng(1)), N)).toEqual(y);
    expect(rejection(message(deflateSync(inner), inner.length))).toBe('accepted');
  });

  it('refuses to inflate a claimed size beyond what the inner codec can need, without inflating', () => {
    const cap = int8Codec().maxEncodedBytes(N);
    expect(rejection(message(deflateSync(inner), cap + 1))).toMatch(/^too-large: .*claims 5013 inflated bytes.*at most 5012/);
    expect(rejection(message(new Uint8Array(0), 0xffffffff))).toMatch(/^too-large/);
  });

  it('stops a decompression bomb as soon as it inflates past the claimed size', () => {
    // Prepare: 16 MB of zeros deflate to ~16 KB; the claim is the largest the inner codec
    // allows. The stream's last part is then corrupted: a decoder that read the whole bomb
    // would fail there (malformed), one that stops past the claim never reaches it (too-large).
    const bomb = deflateSync(new Uint8Array(16 << 20), { level: 1 });
    expect(bomb.length).toBeLessThan(100_000);
    for (let i = bomb.length - 200; i < bomb.length; i++) bomb[i] = (i * 131 + 7) & 0xff;
    expect(() => inflateSync(bomb)).toThrow();
    const bytes = message(bomb, int8Codec().maxEncodedBytes(N));
    // Execute
    const reason = rejection(bytes);
    // Assert
    expect(reason).toMatch(/^too-large: .*more than the 5012 bytes/);
  });

  it('rejects a stream that inflates to fewer bytes than claimed, a corrupt one and a truncated one', () => {
    expect(rejection(message(deflateSync(inner), inner.length + 1))).toMatch(/^malformed: .*inflates to 1016 bytes, it claims 1017/);
    const garbage = new Uint8Array(200).map((_, i) => (i * 97 + 13) & 0xff);
    expect(rejection(message(garbage, inner.length))).toMatch(/^malformed: deflate stream is corrupt/);
    const stream = deflateSync(inner);
    expect(rejection(message(stream.subarray(0, stream.length - 5), inner.length))).toMatch(/^malformed/);
    expect(rejection(message(new Uint8Array(0), inner.length))).toMatch(/^malformed/);
    expect(rejection(message(deflateSync(inner.subarray(0, 4)), 4))).toMatch(/^malformed: .*less than a header/);
  });

  it('passes the inner codec’s own rejections through: another format, another length, a NaN scale', () => {
    const f32 = f32Codec.encode(x, new Rng(1));
    expect(rejection(message(deflateSync(f32), f32.length))).toMatch(/^bad-codec/);
    const short = int8Codec().encode(x.subarray(1), new Rng(1));
    expect(rejection(message(deflateSync(short), short.length))).toMatch(/^bad-length/);
    const nan = new Uint8Array(inner);
    new DataView(nan.buffer).setFloat32(12, NaN, true);
    expect(rejection(message(deflateSync(nan), nan.length))).toMatch(/^non-finite/);
  });

  it('checks the stream size field against the update size', () => {
    const bytes = codec.encode(x, new Rng(1));
    new DataView(bytes.buffer).setUint32(12, bytes.length - 16 + 1, true);
    expect(rejection(bytes)).toMatch(/^bad-length/);
    expect(rejection(bytes.subarray(0, 12))).toMatch(/^malformed: deflate update is truncated/);
  });
});
