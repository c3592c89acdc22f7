import type { Codec } from './codec.js';

/**
 * `codec` whose decoded values are multiplied by `factor`: how the aggregator discounts a stale
 * update (async mode) or bounds a long one (its influence bound) without re-encoding it.
 */
export function scaledCodec(codec: Codec, factor: number): Codec {
  return {
    spec: codec.spec,
    description: codec.description,
    encode: (delta, rng) => codec.encode(delta, rng),
    decode(bytes, length) {
      const out = codec.decode(bytes, length);
      for (let i = 0; i < out.length; i++) out[i]! *= factor;
      return out;
    },
    accumulate: (bytes, length, target, weight) => codec.accumulate(bytes, length, target, weight * factor),
    maxEncodedBytes: (length) => codec.maxEncodedBytes(length),
  };
}
