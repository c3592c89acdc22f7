import { DecodeError, DecodeReason, OptionsError, scaledCodec } from '../../protocol/index.js';
import { l2Norm } from './aggregate.js';
import type { FitResult, RoundAggregation, Strategy, StrategyState } from './strategy.js';

/** The state array that holds the accepted norms, under the inner strategy's names. */
const NORMS = 'influence.norms';

/**
 * An update may be at most this many times as long (L2) as the median accepted update.
 * Measured on the codecs bench task (bench/influence.ts: 20 devices, shards:2, the 2NN, 80
 * rounds): the longest honest update of a round was at most 3.78x the median of recent ones
 * under f32 (1.64x under the default codec, whose top-k flattens lengths), so no clean update
 * was clipped (0 of 1,600 under either) and every round's accuracy was the same as without
 * the bound. The margin over 3.78 is small: a task with more uneven devices may see its
 * longest honest updates scaled down to 4x the median (bounded, not refused).
 */
export const DEFAULT_INFLUENCE_MULTIPLIER = 4;
/** Accepted norms the median is taken over: the most recent ones. */
export const DEFAULT_INFLUENCE_WINDOW = 100;
/** Norms needed before the median of past rounds alone sets the bound (until then each round's own norms count too). */
export const DEFAULT_INFLUENCE_WARMUP = 10;

export interface AdaptiveNormBoundOptions {
  /** The bound is this times the median norm. @default 4 */
  multiplier: number;
  /** Most recent accepted norms kept. @default 100 */
  window: number;
  /** Norms of past rounds needed to bound an update as it arrives. @default 10 */
  warmup: number;
}

/** What the bound did in the last round that finished. */
export interface InfluenceRound {
  /** The L2 bound applied, null when no update came. */
  bound: number | null;
  /** Updates scaled down to the bound. */
  clipped: number;
  /** The longest update's L2 norm (before the bound), null when no update came. */
  longest: number | null;
}

/**
 * Bounds each update's influence by default: every decoded update longer (L2) than
 * `multiplier` x the median norm of recently accepted updates is scaled down to that length
 * before the inner strategy sees it (as `normbound:C` does, with C adapted to the fleet: Andrew et al. 2021, "Differentially Private Learning with
 * Adaptive Clipping", track a quantile of the unclipped norms; this takes the median of a
 * window of them and a margin above it). A device in a minority cannot move the median, so
 * it cannot move the global by more than its share of `multiplier` honest updates.
 *
 * Warm-up: until `warmup` norms of applied rounds are known, a round's updates are held (as
 * they came, encoded) until `finish` and the bound is taken over the past norms and that
 * round's own, so the very first round is bounded too. After it, each update is bounded as it
 * arrives. Memory: the inner strategy's, plus one decoded delta (4 P bytes) during each `add`
 * to measure its norm. An update within the bound reaches the inner strategy unchanged; one
 * beyond it under its own codec with the decoded values scaled (nothing is re-encoded).
 *
 * The window of norms is state (`saveState`), so a round whose result is thrown away can be
 * undone with the rest of the strategy's state.
 */
export class AdaptiveNormBound implements Strategy {
  readonly name: string;
  readonly proximalMu: number | undefined;
  readonly minUpdates: number | undefined;
  readonly options: AdaptiveNormBoundOptions;
  /** Accepted norms, oldest first, at most `window`. */
  private norms: number[] = [];
  /** What the bound did in the last round that finished. */
  last: InfluenceRound = { bound: null, clipped: 0, longest: null };

  constructor(
    readonly inner: Strategy,
    options: Partial<AdaptiveNormBoundOptions> = {},
  ) {
    const o = { multiplier: DEFAULT_INFLUENCE_MULTIPLIER, window: DEFAULT_INFLUENCE_WINDOW, warmup: DEFAULT_INFLUENCE_WARMUP, ...options };
    if (!(o.multiplier >= 1 && Number.isFinite(o.multiplier))) throw new OptionsError('influence', `the multiplier must be a number >= 1, got ${o.multiplier}`);
    if (!(Number.isInteger(o.window) && o.window >= 1)) throw new OptionsError('influence', `the window must be an integer >= 1, got ${o.window}`);
    if (!(Number.isInteger(o.warmup) && o.warmup >= 1 && o.warmup <= o.window)) throw new OptionsError('influence', `the warm-up must be an integer in [1, window], got ${o.warmup}`);
    this.options = o;
    this.name = `adaptive-normbound:${o.multiplier}+${inner.name}`;
    this.proximalMu = inner.proximalMu;
    this.minUpdates = inner.minUpdates;
  }

  /** The bound updates get as they arrive, or null during the warm-up. */
  get bound(): number | null {
    return this.norms.length < this.options.warmup ? null : this.options.multiplier * median(this.norms);
  }

  /** The inner strategy's state and the window of norms (`influence.norms`). */
  saveState(): StrategyState {
    return { ...this.inner.saveState(), ...(this.norms.length > 0 && { [NORMS]: Float64Array.from(this.norms) }) };
  }

  /** Puts back exactly what `saveState` returned: without `influence.norms`, the warm-up starts again. */
  loadState(state: StrategyState): void {
    const { [NORMS]: norms, ...inner } = state;
    this.inner.loadState(inner);
    this.norms = norms ? Array.from(norms).filter((n) => Number.isFinite(n) && n >= 0).slice(-this.options.window) : [];
  }

  beginRound(round: number, global: Float32Array): RoundAggregation {
    const inner = this.inner.beginRound(round, global);
    const fixed = this.bound;
    const seen: number[] = [];
    const pending: { result: FitResult; norm: number }[] = [];
    let clipped = 0;
    // Within the bound the update goes on as it came (the inner strategy decodes it as it would
    // have); beyond, under its own codec scaled down to the bound: nothing is re-encoded.
    const feed = (result: FitResult, norm: number, bound: number): void => {
      if (norm <= bound) return inner.add(result);
      clipped++;
      inner.add({ ...result, codec: scaledCodec(result.codec, bound / norm) });
    };
    return {
      add(result: FitResult): void {
        // Decoding validates: a malformed update throws DecodeError before anything is kept.
        const norm = l2Norm(result.codec.decode(result.delta, global.length));
        // A valid encoding can still decode past float32 (a scale near its maximum times 127).
        if (!Number.isFinite(norm)) throw new DecodeError(DecodeReason.NonFinite, 'the update decodes to values that are not finite');
        if (fixed === null) pending.push({ result, norm });
        else feed(result, norm, fixed);
        seen.push(norm);
      },
      finish: (failures: string[]): Float32Array | null => {
        const bound = fixed ?? (seen.length > 0 ? this.options.multiplier * median([...this.norms, ...seen]) : null);
        pending.sort((a, b) => (a.result.deviceId < b.result.deviceId ? -1 : a.result.deviceId > b.result.deviceId ? 1 : 0));
        for (const p of pending.splice(0)) feed(p.result, p.norm, bound!);
        const next = inner.finish(failures);
        this.last = { bound, clipped, longest: seen.length > 0 ? seen.reduce((a, b) => Math.max(a, b)) : null };
        // Only a round that makes a global teaches the bound.
        if (next !== null) this.norms = [...this.norms, ...seen].slice(-this.options.window);
        return next;
      },
    };
  }
}


/** The median of a non-empty list (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
