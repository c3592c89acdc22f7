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

/** What a strategy keeps across rounds (momentum, moments, a centre): float64 arrays by name. */
export type StrategyState = Record<string, Float64Array>;

/** Something that keeps state across rounds and can hand it to a checkpoint and take it back. */
export interface Stateful {
  /** Copies of the state, by name; `{}` before the first step or when there is none. */
  saveState(): StrategyState;
  /**
   * Puts back exactly what `saveState` of an equal object returned: state it does not find
   * is reset (so the `{}` saved before the first step undoes that step); names it does not
   * know are ignored. A coordinator uses it to undo a round whose result it refuses.
   */
  loadState(state: StrategyState): void;
}

/** `state` with every name under `prefix.`: how a wrapping strategy keeps its inner one's apart from its own. */
export function nestState(prefix: string, state: StrategyState): StrategyState {
  return Object.fromEntries(Object.entries(state).map(([name, values]) => [`${prefix}.${name}`, values]));
}

/** The part of `state` under `prefix.`, with the prefix taken off. */
export function unnestState(prefix: string, state: StrategyState): StrategyState {
  const head = `${prefix}.`;
  return Object.fromEntries(Object.entries(state).filter(([name]) => name.startsWith(head)).map(([name, values]) => [name.slice(head.length), values]));
}

/**
 * A federated strategy, shaped like Flower's `Strategy`: it is told the round's global
 * weights and returns an aggregation that receives updates as they arrive. Server
 * optimizers keep state across rounds in the strategy object: each `finish` that returns
 * weights is one server step, so call it only for a round whose result will be applied. That
 * state goes into checkpoints through `Stateful`, so a resumed run steps on as if never stopped.
 */
export interface Strategy extends Stateful {
  /** The canonical spec: `parseStrategy(name)` builds an equal strategy. */
  readonly name: string;
  /**
   * FedProx's mu, for the round config: devices add (mu / 2) ||w - w_global||^2 to their
   * local objective (Li et al. 2020). Absent or 0: plain local SGD.
   */
  readonly proximalMu?: number;
  /**
   * The fewest accepted updates `finish` aggregates (Krum needs 2f + 3); with fewer it
   * returns `null`. A coordinator should use at least this as its quorum.
   * @default 1
   */
  readonly minUpdates?: number;
  beginRound(round: number, global: Float32Array): RoundAggregation;
}
