import { describe, expect, it } from 'vitest';
import { DecodeError } from './errors.js';
import { Rng } from './random.js';
import { applyGlobalDelta, decodeGlobal, encodeGlobal, encodeGlobalDelta, parseDownlink } from './downlink.js';
import { parseCodec } from './codecs/index.js';
import { build } from './wire.js';

const vector = (n: number, seed: number, scale = 1): Float32Array => {
  const rng = new Rng(seed);
  return new Float32Array(n).map(() => rng.normal() * scale);
};

describe('the downlink', () => {
  it('sends a full f16 global at half the bytes and tells the aggregator the rounded weights devices hold', () => {
    // Prepare
    const weights = vector(10_000, 1);
    const { full } = parseDownlink('f16');
    // Execute
    const sent = encodeGlobal(weights, full, new Rng(0));
    const message = build.global({ version: 1, round: 1, codec: full.spec, weights: sent.bytes, sha256: sent.sha256 });
    const held = decodeGlobal(message, weights.length);
    // Assert
    expect(sent.bytes.byteLength).toBeLessThan(weights.byteLength / 2 + 64);
    expect(held).toEqual(sent.weights);
    for (let i = 0; i < weights.length; i += 101) expect(Math.abs(held[i]! - weights[i]!)).toBeLessThanOrEqual(Math.abs(weights[i]!) * 2 ** -11);
  });

  it('keeps device and aggregator bit-identical through a chain of lossy deltas', () => {
    // Prepare: ten globals, each a small step from the last, sent as int8 deltas.
    const codec = parseDownlink('delta:int8').delta!;
    let aggregator: Float32Array = vector(5000, 2);
    let device: Float32Array = new Float32Array(aggregator);
    for (let version = 1; version <= 10; version++) {
      const next = aggregator.map((w, i) => w + 0.01 * Math.sin(i + version));
      // Execute
      const step = encodeGlobalDelta(aggregator, next, codec, new Rng(version));
      device = applyGlobalDelta(device, build.globalDelta({ version, baseVersion: version - 1, round: version, codec: codec.spec, delta: step.bytes, sha256: step.sha256 }));
      aggregator = step.weights;
    }
    // Assert
    expect(device).toEqual(aggregator);
  });

  it('rejects a corrupt global or a delta applied to the wrong base', () => {
    const weights = vector(100, 3);
    const sent = encodeGlobal(weights, parseCodec('f32'), new Rng(0));
    const tampered = new Uint8Array(sent.bytes);
    tampered[20]! ^= 1;
    expect(() => decodeGlobal(build.global({ version: 1, round: 1, codec: 'f32', weights: tampered, sha256: sent.sha256 }), 100)).toThrow(DecodeError);
    expect(() => decodeGlobal(build.global({ version: 1, round: 1, codec: 'int8', weights: sent.bytes, sha256: sent.sha256 }), 100)).toThrow(/f32 or f16/);
    const step = encodeGlobalDelta(weights, vector(100, 4), parseCodec('f16'), new Rng(0));
    const delta = build.globalDelta({ version: 2, baseVersion: 1, round: 2, codec: 'f16', delta: step.bytes, sha256: step.sha256 });
    expect(() => applyGlobalDelta(vector(100, 5), delta)).toThrow(/sha256/);
  });

  it('parses its specs and refuses others', () => {
    expect(parseDownlink('f32').delta).toBeNull();
    expect(parseDownlink('delta:f16').spec).toBe('delta:f16');
    expect(() => parseDownlink('delta:int8+ef')).toThrow(/\+ef/);
    expect(() => parseDownlink('int8')).toThrow(/downlink/);
    expect(() => parseDownlink('delta:bogus')).toThrow(/codec/);
  });
});
