import { describe, expect, it } from 'vitest';
import { DecodeError } from './errors.js';
import { Rng } from './random.js';
import { applyCatchUp, applyGlobalDelta, decodeGlobal, encodeGlobal, encodeGlobalDelta, parseDownlink, type HeldGlobal } from './downlink.js';
import { parseCodec } from './codecs/index.js';
import { build, decodeMessage, encodeMessage, sha256Hex } from './wire.js';

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
    const ef = parseDownlink('delta:topk:0.1+ternary+ef');
    expect([ef.spec, ef.delta!.spec, ef.errorFeedback, ef.delta!.errorFeedback ?? false]).toEqual(['delta:topk:0.1+ternary+ef', 'topk:0.1+ternary', true, false]);
    expect(parseDownlink('delta:int8').errorFeedback).toBe(false);
    expect(() => parseDownlink('int8')).toThrow(/downlink/);
    expect(() => parseDownlink('delta:bogus')).toThrow(/codec/);
  });
});

describe('a catch-up', () => {
  const codec = parseCodec('topk:0.1+ternary');
  /** Versions 0..count of a model that moves a little each version, as steps the aggregator sent, and each version's weights. */
  const history = (count: number): { steps: Uint8Array[]; held: HeldGlobal[] } => {
    const held: HeldGlobal[] = [{ weights: vector(2000, 7), version: 0, round: 0, sha256: '' }];
    held[0]!.sha256 = sha256Hex(held[0]!.weights);
    const steps: Uint8Array[] = [];
    for (let version = 1; version <= count; version++) {
      const previous = held[version - 1]!;
      const step = encodeGlobalDelta(previous.weights, previous.weights.map((w, i) => w + 0.01 * Math.cos(i * version)), codec, new Rng(version));
      steps.push(encodeMessage(build.globalDelta({ version, baseVersion: version - 1, round: version, codec: codec.spec, delta: step.bytes, sha256: step.sha256 })));
      held.push({ weights: step.weights, version, round: version, sha256: step.sha256 });
    }
    return { steps, held };
  };

  it('brings a device from any older version to the newest bit for bit, by the chain of steps or the full copy', () => {
    const { steps, held } = history(20);
    for (const missed of [1, 3, 20]) {
      const from = held[20 - missed]!;
      const chained = applyCatchUp(from, build.catchUp({ version: 20, baseVersion: from.version, steps: steps.slice(20 - missed) }), 2000);
      expect([chained.version, chained.sha256, sha256Hex(chained.weights)]).toEqual([20, held[20]!.sha256, held[20]!.sha256]);
      expect(chained.weights).toEqual(held[20]!.weights);
    }
    const full = encodeGlobal(held[20]!.weights, parseCodec('f32'), new Rng(0));
    const global = encodeMessage(build.global({ version: 20, round: 20, codec: 'f32', weights: full.bytes, sha256: full.sha256 }));
    expect(applyCatchUp(null, build.catchUp({ version: 20, baseVersion: -1, full: global }), 2000).weights).toEqual(held[20]!.weights);
  });

  it('refuses a corrupt step, steps out of order, a chain from another version or one that stops short, and leaves the held copy alone', () => {
    const { steps, held } = history(4);
    const from = held[1]!;
    const before = new Float32Array(from.weights);
    const corrupt = decodeMessage('globalDelta', steps[2]!);
    const flipped = new Uint8Array(corrupt.delta);
    flipped[flipped.length - 1]! ^= 0x40;
    const tampered = [steps[1]!, encodeMessage({ ...corrupt, delta: flipped }), steps[3]!];
    const cases: [string, Uint8Array[], number, RegExp][] = [
      ['a corrupt step', tampered, 1, /sha256|decode|value|ternary/i],
      ['steps out of order', [steps[2]!, steps[1]!, steps[3]!], 1, /does not follow/],
      ['another base', steps.slice(1), 0, /starts from v0/],
    ];
    for (const [, chain, baseVersion, reason] of cases) {
      expect(() => applyCatchUp(from, { v: 1, type: 'catchUp', version: 4, baseVersion, steps: chain }, 2000)).toThrow(reason);
    }
    expect(() => applyCatchUp(from, { v: 1, type: 'catchUp', version: 4, baseVersion: 1, steps: steps.slice(1, 3) }, 2000)).toThrow(/ends at v3/);
    expect(from.weights).toEqual(before);
  });

  it('is refused on the wire when it chains a number of steps other than its versions say, or carries both or neither', () => {
    const { steps } = history(3);
    const wire = (o: object): Uint8Array => encodeMessage({ v: 1, type: 'catchUp', ...o } as never);
    expect(() => decodeMessage('catchUp', wire({ version: 3, baseVersion: 0, steps: steps.slice(1) }))).toThrow(/must chain 3 steps, not 2/);
    expect(() => decodeMessage('catchUp', wire({ version: 3, baseVersion: 0 }))).toThrow(/either/);
    expect(() => decodeMessage('catchUp', wire({ version: 3, baseVersion: 0, steps, full: steps[0] }))).toThrow(/either/);
    expect(decodeMessage('catchUp', wire({ version: 3, baseVersion: 0, steps })).steps).toHaveLength(3);
  });
});
