import { OptionsError } from '../../protocol/index.js';
import { ServerMomentum } from './fedAvgM.js';
import { nestState, unnestState, type FitResult, type RoundAggregation, type Strategy, type StrategyState } from './strategy.js';

/**
 * Server momentum around any strategy (`momentum:BETA:LR+SPEC`): the step the inner strategy
 * would take, next - global, becomes the pseudo-gradient of FedAvgM's heavy-ball update
 * (Hsu et al. 2019): v <- BETA v + step, w <- w + LR v. `momentum:0.9:1+fedavg` is `fedavgm`;
 * `momentum:0.9:1+median` moves by an average of past medians, which Karimireddy et al. 2021
 * ("Learning from History for Byzantine Robust Optimization") argue damps round-to-round
 * noise that robust statistics mistake for attacks (they put the momentum on the devices; this
 * is the server-side variant). Memory: the inner strategy's, plus P float64 kept across rounds.
 */
export class WithServerMomentum implements Strategy {
  readonly name: string;
  readonly proximalMu: number | undefined;
  readonly minUpdates: number | undefined;
  private readonly server: ServerMomentum;

  constructor(
    readonly beta: number,
    readonly lr: number,
    readonly inner: Strategy,
  ) {
    if (!(beta >= 0 && beta < 1)) throw new OptionsError('strategy', `momentum: BETA must be in [0, 1), got ${beta}`);
    if (!(lr > 0 && Number.isFinite(lr))) throw new OptionsError('strategy', `momentum: LR must be a positive number, got ${lr}`);
    this.name = `momentum:${beta}:${lr}+${inner.name}`;
    this.proximalMu = inner.proximalMu;
    this.minUpdates = inner.minUpdates;
    this.server = new ServerMomentum({ beta, lr });
  }

  saveState(): StrategyState {
    return { ...this.server.saveState(), ...nestState('inner', this.inner.saveState()) };
  }

  loadState(state: StrategyState): void {
    this.server.loadState(state);
    this.inner.loadState(unnestState('inner', state));
  }

  beginRound(round: number, global: Float32Array): RoundAggregation {
    const inner = this.inner.beginRound(round, global);
    const server = this.server;
    return {
      add: (result: FitResult) => inner.add(result),
      finish(failures: string[]): Float32Array | null {
        const next = inner.finish(failures);
        if (next === null) return null;
        return server.step(global, Float64Array.from(next, (w, i) => w - global[i]!));
      },
    };
  }
}
