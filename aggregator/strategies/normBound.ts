import { OptionsError, Rng, f32Codec } from '../../protocol/index.js';
import { clipToNorm } from './aggregate.js';
import { FedAvg } from './fedAvg.js';
import type { FitResult, RoundAggregation, Strategy, StrategyState } from './strategy.js';

/** f32 encoding draws nothing; the codec interface wants a generator all the same. */
const UNUSED_RNG = new Rng(0);

/**
 * Norm bounding (Sun et al. 2019, "Can You Really Backdoor Federated Learning?"): every
 * decoded update is scaled down to L2 norm `bound` if longer, then handed to the inner
 * strategy (FedAvg by default) as a lossless float32 encoding, so any strategy composes:
 * `normbound:5+median`. Memory: the inner strategy's, plus one decoded delta and its
 * re-encoding (8 P bytes) during each `add`.
 */
export class NormBound implements Strategy {
  readonly name: string;
  readonly proximalMu: number | undefined;
  readonly minUpdates: number | undefined;

  constructor(
    readonly bound: number,
    readonly inner: Strategy = new FedAvg(),
  ) {
    if (!(bound > 0 && Number.isFinite(bound))) throw new OptionsError('strategy', `normbound: the bound must be a positive number, got ${bound}`);
    this.name = `normbound:${bound}+${inner.name}`;
    this.proximalMu = inner.proximalMu;
    this.minUpdates = inner.minUpdates;
  }

  /** Only the inner strategy keeps state. */
  saveState(): StrategyState {
    return this.inner.saveState();
  }

  loadState(state: StrategyState): void {
    this.inner.loadState(state);
  }

  beginRound(round: number, global: Float32Array): RoundAggregation {
    const inner = this.inner.beginRound(round, global);
    const bound = this.bound;
    return {
      add(result: FitResult): void {
        // Decoding validates: a malformed update throws DecodeError before the inner strategy sees it.
        const delta = result.codec.decode(result.delta, global.length);
        clipToNorm(delta, bound);
        inner.add({ ...result, codec: f32Codec, delta: f32Codec.encode(delta, UNUSED_RNG) });
      },
      finish: (failures) => inner.finish(failures),
    };
  }
}
