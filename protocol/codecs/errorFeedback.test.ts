import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { Rng } from '../random.js';
import { ErrorFeedback, parseCodec, type Codec } from './index.js';

function norm(v: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** T rounds of deltas (a steady drift plus noise, as SGD steps are): what the aggregator summed vs the truth. */
function simulate(codec: Codec, useFeedback: boolean, rounds: number, n = 1000) {
  const rng = new Rng(21);
  const drift = new Float32Array(n).map(() => rng.normal() * 0.01);
  const truth = new Float64Array(n);
  const sent = new Float64Array(n);
  const feedback = new ErrorFeedback(n);
  const residualNorms: number[] = [];
  const relativeErrors: number[] = [];
  for (let t = 0; t < rounds; t++) {
    const delta = new Float32Array(n).map((_, i) => drift[i]! + rng.normal() * 0.01);
    for (let i = 0; i < n; i++) truth[i]! += delta[i]!;
    const bytes = useFeedback ? feedback.encode(codec, delta, rng) : codec.encode(delta, rng);
    codec.accumulate(bytes, n, sent, 1);
    residualNorms.push(norm(feedback.residual));
    let error = 0;
    for (let i = 0; i < n; i++) error += (sent[i]! - truth[i]!) ** 2;
    relativeErrors.push(Math.sqrt(error) / norm(truth));
  }
  return { truth, sent, feedback, residualNorms, relativeErrors };
}

describe('error feedback', () => {
  it('sends over T rounds the sum of the true deltas minus a bounded residual', () => {
    // Prepare
    const codec = parseCodec('topk:0.05+int8+ef');
    // Execute
    const withFeedback = simulate(codec, true, 200);
    const without = simulate(codec, false, 200);
    // Assert: sent = truth - residual, exactly up to float32 rounding.
    const { truth, sent, feedback } = withFeedback;
    for (let i = 0; i < truth.length; i++) expect(Math.abs(sent[i]! + feedback.residual[i]! - truth[i]!)).toBeLessThan(1e-4);
    // The residual stops growing: its last 100 rounds are no larger than its first 100.
    const first = Math.max(...withFeedback.residualNorms.slice(0, 100));
    const last = Math.max(...withFeedback.residualNorms.slice(100));
    expect(last).toBeLessThan(1.2 * first);
    // So the relative error of the sum goes to 0, while top-k alone keeps losing the same share.
    expect(withFeedback.relativeErrors[199]).toBeLessThan(0.1);
    expect(withFeedback.relativeErrors[199]).toBeLessThan(withFeedback.relativeErrors[19]! / 5);
    expect(without.relativeErrors[199]).toBeGreaterThan(0.5);
  });

  it('also bounds the residual of an unbiased quantiser, whose error would otherwise random-walk', () => {
    const { relativeErrors, residualNorms } = simulate(parseCodec('ternary+ef'), true, 100);
    const without = simulate(parseCodec('ternary'), false, 100);
    expect(Math.max(...residualNorms.slice(50))).toBeLessThan(1.5 * Math.max(...residualNorms.slice(0, 50)));
    // With a bounded residual the relative error falls like 1/T; without, like 1/sqrt(T).
    expect(relativeErrors[99]).toBeLessThan(relativeErrors[9]! / 4);
    expect(relativeErrors[99]).toBeLessThan(without.relativeErrors[99]!);
  });

  it('keeps its residual when the codec refuses a delta', () => {
    const feedback = new ErrorFeedback(3);
    feedback.encode(parseCodec('topk:0.3+f32'), new Float32Array([1, 2, 3]), new Rng(1));
    expect(Array.from(feedback.residual)).toEqual([1, 2, 0]);
    expect(() => feedback.encode(parseCodec('topk:0.3+f32'), new Float32Array([NaN, 0, 0]), new Rng(1))).toThrow(RangeError);
    expect(() => feedback.encode(parseCodec('f32'), new Float32Array(4), new Rng(1))).toThrow(RangeError);
    expect(Array.from(feedback.residual)).toEqual([1, 2, 0]);
  });

  it('round-trips its state through bytes and rejects corrupt state with a typed error', () => {
    const feedback = new ErrorFeedback(new Float32Array([0.5, -1e-8, 3]));
    const bytes = feedback.toBytes();
    expect(ErrorFeedback.fromBytes(bytes).residual).toEqual(feedback.residual);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(ErrorFeedback.fromBytes(shifted.subarray(1)).residual).toEqual(feedback.residual);
    const reason = (b: Uint8Array): string => {
      try {
        ErrorFeedback.fromBytes(b);
        return 'accepted';
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        return (e as DecodeError).reason;
      }
    };
    expect(reason(bytes.subarray(0, 5))).toBe('malformed');
    expect(reason(bytes.subarray(0, bytes.length - 1))).toBe('bad-length');
    expect(reason(new Uint8Array(bytes.length))).toBe('malformed');
    const version = new Uint8Array(bytes);
    version[4] = 9;
    expect(reason(version)).toBe('bad-version');
    const nan = new Uint8Array(bytes);
    new DataView(nan.buffer).setFloat32(12, NaN, true);
    expect(reason(nan)).toBe('non-finite');
  });
});
