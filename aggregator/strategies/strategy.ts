import type { Codec } from '../../protocol/index.js';

/** One device's validated update, still encoded: strategies decode as they need. */
export interface FitResult {
  deviceId: string;
  numExamples: number;
  codec: Codec;
  delta: Uint8Array;
}

/** The aggregation of one round, fed update by update. */
export interface RoundAggregation {
  /**
   * Folds one update in. Throws `DecodeError` (leaving the aggregate untouched) when the
   * encoded delta is malformed; the coordinator then counts it as rejected.
   */
  add(result: FitResult): void;
  /** The next global weights, or `null` to keep the current global (nothing to apply). */
  finish(failures: string[]): Float32Array | null;
}

/**
 * A federated strategy, shaped like Flower's `Strategy`: it is told the round's global
 * weights and returns an aggregation that receives updates as they arrive.
 */
export interface Strategy {
  readonly name: string;
  beginRound(round: number, global: Float32Array): RoundAggregation;
}
