import { OptionsError } from '../../protocol/index.js';
import { AggregatingStrategy, STREAMING_MEAN, type ServerUpdate } from './aggregatingStrategy.js';
import type { StrategyState } from './strategy.js';

export interface FedAvgMOptions {
  /** Server momentum beta, in [0, 1). @default 0.9 */
  beta: number;
  /** Server learning rate eta, > 0. @default 1 */
  lr: number;
}

/** Hsu et al. 2019 use beta = 0.9 with eta = 1 as their reference setting. */
export const DEFAULT_FEDAVGM_BETA = 0.9;
export const DEFAULT_FEDAVGM_LR = 1;

export function defaultFedAvgMOptions(): FedAvgMOptions {
  return { beta: DEFAULT_FEDAVGM_BETA, lr: DEFAULT_FEDAVGM_LR };
}

/**
 * Heavy-ball momentum on the server: v <- beta v + delta, w <- w + lr v, the pseudo-gradient
 * being the FedAvg mean delta. v persists across rounds (O(model) float64).
 */
export class ServerMomentum implements ServerUpdate {
  private velocity = new Float64Array(0);

  constructor(private readonly options: FedAvgMOptions) {}

  saveState(): StrategyState {
    return this.velocity.length > 0 ? { velocity: this.velocity.slice() } : {};
  }

  /** Puts back exactly what `saveState` returned: without `velocity`, no momentum yet. */
  loadState(state: StrategyState): void {
    this.velocity = state.velocity?.slice() ?? new Float64Array(0);
  }

  step(global: Float32Array, delta: ArrayLike<number>): Float32Array {
    const { beta, lr } = this.options;
    if (this.velocity.length !== global.length) this.velocity = new Float64Array(global.length);
    const v = this.velocity;
    const out = new Float32Array(global.length);
    for (let i = 0; i < global.length; i++) {
      v[i] = beta * v[i]! + delta[i]!;
      out[i] = global[i]! + lr * v[i]!;
    }
    return out;
  }
}

/**
 * FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution for
 * Federated Visual Classification"): FedAvg's weighted mean delta, applied with server
 * momentum. Streaming, O(model) memory for the round plus O(model) momentum kept across rounds.
 */
export class FedAvgM extends AggregatingStrategy {
  readonly options: FedAvgMOptions;

  constructor(options: Partial<FedAvgMOptions> = {}) {
    const o = { ...defaultFedAvgMOptions(), ...options };
    if (!(o.beta >= 0 && o.beta < 1)) throw new OptionsError('strategy', `fedavgm: beta must be in [0, 1), got ${o.beta}`);
    if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new OptionsError('strategy', `fedavgm: lr must be a positive number, got ${o.lr}`);
    super({ name: `fedavgm:${o.beta}:${o.lr}`, reduction: STREAMING_MEAN, server: new ServerMomentum(o) });
    this.options = o;
  }
}
