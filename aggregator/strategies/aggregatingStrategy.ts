import { applyDelta, scale } from './aggregate.js';
import type { FitResult, RoundAggregation, Stateful, Strategy, StrategyState } from './strategy.js';

/** One update after decoding: what buffered reductions see. */
export interface DecodedUpdate {
  deviceId: string;
  numExamples: number;
  delta: Float32Array;
}

/**
 * A round's decoded updates, sorted by device id (so arrival order cannot matter), to one
 * delta; `null` keeps the global.
 */
export type BufferedReduce = (updates: readonly DecodedUpdate[]) => ArrayLike<number> | null;

/**
 * How a round's updates become one delta. `streaming`: the example-weighted mean, each
 * update decoded straight into one float64 sum, O(P) memory for any number of devices (the
 * FedAvg family). `buffered`: every update decoded and kept until `finish`, O(n * P) float32
 * memory (median, trimmed mean, Krum).
 */
export type Reduction = { kind: 'streaming' } | { kind: 'buffered'; reduce: BufferedReduce; state?: Stateful };

export const STREAMING_MEAN: Reduction = { kind: 'streaming' };

/**
 * Moves the global by a round's aggregate delta. Server optimizers keep their state (momentum,
 * second moments) in this object across rounds; it is reset if the model size changes.
 */
export interface ServerUpdate extends Partial<Stateful> {
  step(global: Float32Array, delta: ArrayLike<number>): Float32Array;
}

/** The plain step of FedAvg: global + delta. Stateless. */
export const PLAIN_STEP: ServerUpdate = { step: (global, delta) => applyDelta(global, delta) };

/**
 * What every strategy is made of. Strategies differ only in the functions given here, not in
 * constructor parameters repeated per class (Flower's robust strategies repeat a dozen).
 */
export interface StrategyOptions {
  /** The canonical spec, e.g. `trimmed-mean:0.2`; becomes `Strategy.name`. */
  name: string;
  /** How the round's updates become one delta. */
  reduction: Reduction;
  /** How that delta moves the global. @default PLAIN_STEP */
  server?: ServerUpdate;
  /** FedProx's mu, sent to devices in the round config. @default 0 */
  proximalMu?: number;
  /** Fewer accepted updates than this and `finish` keeps the global. @default 1 */
  minUpdates?: number;
}

/** A strategy assembled from a reduction and a server update. */
export class AggregatingStrategy implements Strategy {
  readonly name: string;
  readonly proximalMu: number;
  readonly minUpdates: number;
  private readonly reduction: Reduction;
  private readonly server: ServerUpdate;

  constructor(options: StrategyOptions) {
    this.name = options.name;
    this.reduction = options.reduction;
    this.server = options.server ?? PLAIN_STEP;
    this.proximalMu = options.proximalMu ?? 0;
    this.minUpdates = options.minUpdates ?? 1;
  }

  /** The server update's state (momentum, moments) and a stateful reduction's (a centre). */
  saveState(): StrategyState {
    return { ...this.server.saveState?.(), ...(this.reduction.kind === 'buffered' && this.reduction.state?.saveState()) };
  }

  loadState(state: StrategyState): void {
    this.server.loadState?.(state);
    if (this.reduction.kind === 'buffered') this.reduction.state?.loadState(state);
  }

  beginRound(_round: number, global: Float32Array): RoundAggregation {
    return this.reduction.kind === 'streaming' ? this.streaming(global) : this.buffered(global, this.reduction.reduce);
  }

  private streaming(global: Float32Array): RoundAggregation {
    const { server, minUpdates } = this;
    const sum = new Float64Array(global.length);
    let totalExamples = 0;
    let count = 0;
    return {
      add(result: FitResult): void {
        result.codec.accumulate(result.delta, global.length, sum, result.numExamples);
        totalExamples += result.numExamples;
        count++;
      },
      finish(): Float32Array | null {
        if (count === 0 || count < minUpdates) return null;
        return server.step(global, scale(sum, 1 / totalExamples));
      },
    };
  }

  private buffered(global: Float32Array, reduce: BufferedReduce): RoundAggregation {
    const { server, minUpdates } = this;
    const updates: DecodedUpdate[] = [];
    return {
      add(result: FitResult): void {
        // Decoding validates: a malformed update throws here and is never buffered.
        const delta = result.codec.decode(result.delta, global.length);
        updates.push({ deviceId: result.deviceId, numExamples: result.numExamples, delta });
      },
      finish(): Float32Array | null {
        // Taken out, so the buffers are freed once the round is over, not when the next begins.
        const taken = updates.splice(0);
        if (taken.length === 0 || taken.length < minUpdates) return null;
        taken.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
        const delta = reduce(taken);
        return delta === null ? null : server.step(global, delta);
      },
    };
  }
}
