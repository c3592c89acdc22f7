/** Seeded randomness and helpers for the secure-aggregation tests and bench. */
import { Encoder } from 'cbor-x';
import type { SecAggDeviceMessage, SecAggServerMessage } from './messages.js';
import { quantizeForSecAgg, type SecAggQuantizer } from './quantize.js';

/** mulberry32: a small seeded generator in [0, 1) (test data only, never keys). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A device's float update, reproducible from its id and a seed (values about N(0, 0.05)-sized). */
export function fakeUpdate(id: string, length: number, seed = 1): Float32Array {
  let h = seed;
  for (const c of id) h = Math.imul(h ^ c.charCodeAt(0), 0x9e3779b1);
  const rand = seeded(h);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (rand() + rand() + rand() - 1.5) * 0.1;
  return out;
}

export function quantizedUpdate(id: string, length: number, q: SecAggQuantizer, seed = 1): Uint32Array {
  return quantizeForSecAgg(fakeUpdate(id, length, seed), q, seeded(seed * 7919 + id.length));
}

/** Plain sum in Z_2^32. */
export function plainSum(vectors: Iterable<Uint32Array>, length: number): Uint32Array {
  const sum = new Uint32Array(length);
  for (const v of vectors) for (let i = 0; i < length; i++) sum[i] = sum[i]! + v[i]!;
  return sum;
}

export function deviceIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
}

/** Chi-square statistic of the byte histogram of a vector against the uniform distribution (255 df). */
export function byteChiSquare(words: Uint32Array): number {
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const counts = new Float64Array(256);
  for (const b of bytes) counts[b]!++;
  const expected = bytes.length / 256;
  let chi = 0;
  for (const c of counts) chi += ((c - expected) * (c - expected)) / expected;
  return chi;
}

/** Upper quantile of chi-square with `df` degrees of freedom at standard-normal quantile z (Wilson-Hilferty). */
export function chiSquareQuantile(df: number, z: number): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

// As protocol/wire.ts encodes: plain maps, typed arrays as RFC 8746 tags.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

/** A message through CBOR and back, as it would cross MQTT; reports its encoded size. */
export function cborTrip<M extends SecAggDeviceMessage | SecAggServerMessage>(msg: M, onBytes?: (bytes: number, msg: M) => void): M {
  const encoded = new Uint8Array(cbor.encode(msg));
  onBytes?.(encoded.length, msg);
  return cbor.decode(encoded) as M;
}
