import { OptionsError, Rng, f32Codec } from '../../protocol/index.js';
import type { FitResult, RoundAggregation, Strategy, StrategyState } from './strategy.js';

/** f32 encoding draws nothing; the codec interface wants a generator all the same. */
const UNUSED_RNG = new Rng(0);

/**
 * Bucketing (Karimireddy, He & Jaggi 2022, "Byzantine-Robust Learning on Heterogeneous
 * Datasets via Bucketing"): the round's updates are shuffled into buckets of `size`, each
 * bucket is averaged, and the bucket means go to the inner robust
 * strategy (`bucket:2+median`). Averaging first makes honest inputs alike even on non-IID
 * data, which coordinate-wise statistics need. The shuffle is seeded by the round and the
 * device ids, so arrival order does not matter. Memory: n decoded float32 deltas until
 * `finish`, plus the inner strategy's.
 */
export class Bucketing implements Strategy {
  readonly name: string;
  readonly proximalMu: number | undefined;
  readonly minUpdates: number | undefined;

  constructor(
    readonly size: number,
    readonly inner: Strategy,
  ) {
    if (!(Number.isInteger(size) && size >= 1)) throw new OptionsError('strategy', `bucket: the bucket size must be an integer >= 1, got ${size}`);
    this.name = `bucket:${size}+${inner.name}`;
    this.proximalMu = inner.proximalMu;
    // The inner strategy sees one input per bucket: m buckets need (m - 1) * size + 1 updates.
    this.minUpdates = inner.minUpdates === undefined ? undefined : (inner.minUpdates - 1) * size + 1;
  }

  /** Only the inner strategy keeps state. */
  saveState(): StrategyState {
    return this.inner.saveState();
  }

  loadState(state: StrategyState): void {
    this.inner.loadState(state);
  }

  beginRound(round: number, global: Float32Array): RoundAggregation {
    const updates: { deviceId: string; numExamples: number; delta: Float32Array }[] = [];
    const { size, inner } = this;
    return {
      add(result: FitResult): void {
        // Decoding validates: a malformed update throws DecodeError and is not kept.
        updates.push({ deviceId: result.deviceId, numExamples: result.numExamples, delta: result.codec.decode(result.delta, global.length) });
      },
      finish(failures: string[]): Float32Array | null {
        if (updates.length === 0) return null;
        updates.sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
        const order = Rng.derive(round, ...updates.map((u) => u.deviceId)).shuffle(updates.map((_, i) => i));
        const aggregation = inner.beginRound(round, global);
        for (let first = 0; first < order.length; first += size) {
          const bucket = order.slice(first, first + size).map((i) => updates[i]!);
          // A plain mean, as the paper's: weighting by claimed example counts would let a device buy influence.
          const examples = bucket.reduce((s, u) => s + u.numExamples, 0);
          const mean = new Float32Array(global.length);
          for (const u of bucket) {
            for (let i = 0; i < mean.length; i++) mean[i]! += u.delta[i]! / bucket.length;
          }
          aggregation.add({ deviceId: bucket[0]!.deviceId, numExamples: examples, codec: f32Codec, delta: f32Codec.encode(mean, UNUSED_RNG) });
        }
        return aggregation.finish(failures);
      },
    };
  }
}
