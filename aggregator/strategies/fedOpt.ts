import { OptionsError } from '../../protocol/index.js';
import { AggregatingStrategy, STREAMING_MEAN, type ServerUpdate } from './aggregatingStrategy.js';

/** Hyper-parameters shared by FedAdagrad, FedAdam and FedYogi (Reddi et al. 2021, Algorithm 2). */
export interface FedOptOptions {
  /** Server learning rate eta, > 0. @default 0.01 */
  eta: number;
  /** Adaptivity tau, > 0: the denominator's floor; also v's start, v_{-1} = tau^2. @default 0.001 */
  tau: number;
  /** First-moment decay beta1, in [0, 1). @default 0.9 */
  beta1: number;
  /** Second-moment decay beta2, in [0, 1); FedAdagrad has none. @default 0.99 */
  beta2: number;
}

/**
 * Reddi et al. fix beta1 = 0.9, beta2 = 0.99 and tune eta and tau on log grids; 10^-2 and
 * 10^-3 sit in their best ranges for the image tasks. The paper's algorithm has no bias
 * correction, so the first step moves each coordinate by about eta: a larger eta throws
 * small MNIST models far from where FedAvg would go.
 */
export const DEFAULT_FEDOPT_ETA = 0.01;
export const DEFAULT_FEDOPT_TAU = 0.001;
export const DEFAULT_FEDOPT_BETA1 = 0.9;
export const DEFAULT_FEDOPT_BETA2 = 0.99;

export function defaultFedOptOptions(): FedOptOptions {
  return { eta: DEFAULT_FEDOPT_ETA, tau: DEFAULT_FEDOPT_TAU, beta1: DEFAULT_FEDOPT_BETA1, beta2: DEFAULT_FEDOPT_BETA2 };
}

/** v_t from v_{t-1} and delta_t^2, per coordinate: what tells the three optimizers apart. */
export type SecondMoment = (v: number, deltaSquared: number, beta2: number) => number;

/**
 * The adaptive server step: m <- beta1 m + (1 - beta1) delta; v <- rule(v, delta^2);
 * w <- w + eta m / (sqrt(v) + tau), the pseudo-gradient delta being the FedAvg mean delta.
 * m and v persist across rounds (2 x O(model) float64).
 */
export class AdaptiveServer implements ServerUpdate {
  private m = new Float64Array(0);
  private v = new Float64Array(0);

  constructor(
    private readonly options: FedOptOptions,
    private readonly secondMoment: SecondMoment,
  ) {}

  step(global: Float32Array, delta: ArrayLike<number>): Float32Array {
    const { eta, tau, beta1, beta2 } = this.options;
    if (this.m.length !== global.length) {
      this.m = new Float64Array(global.length);
      this.v = new Float64Array(global.length).fill(tau * tau);
    }
    const { m, v } = this;
    const out = new Float32Array(global.length);
    for (let i = 0; i < global.length; i++) {
      const d = delta[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * d;
      v[i] = this.secondMoment(v[i]!, d * d, beta2);
      out[i] = global[i]! + (eta * m[i]!) / (Math.sqrt(v[i]!) + tau);
    }
    return out;
  }
}

export type FedOptName = 'fedadagrad' | 'fedadam' | 'fedyogi';

/**
 * The FedOpt family (Reddi et al. 2021, "Adaptive Federated Optimization"): FedAvg's
 * streaming weighted mean (O(model) memory for the round) as the pseudo-gradient of an
 * adaptive server optimizer, whose m and v are kept across rounds.
 */
export class FedOpt extends AggregatingStrategy {
  readonly options: FedOptOptions;

  constructor(kind: FedOptName, secondMoment: SecondMoment, options: Partial<FedOptOptions> = {}) {
    const o = { ...defaultFedOptOptions(), ...options };
    const bad = (what: string): never => {
      throw new OptionsError('strategy', `${kind}: ${what}`);
    };
    if (!(o.eta > 0 && Number.isFinite(o.eta))) bad(`eta must be a positive number, got ${o.eta}`);
    if (!(o.tau > 0 && Number.isFinite(o.tau))) bad(`tau must be a positive number, got ${o.tau}`);
    if (!(o.beta1 >= 0 && o.beta1 < 1)) bad(`beta1 must be in [0, 1), got ${o.beta1}`);
    if (!(o.beta2 >= 0 && o.beta2 < 1)) bad(`beta2 must be in [0, 1), got ${o.beta2}`);
    // FedAdagrad has no beta2: its canonical spec leaves it out.
    const params = kind === 'fedadagrad' ? [o.eta, o.tau, o.beta1] : [o.eta, o.tau, o.beta1, o.beta2];
    super({ name: [kind, ...params].join(':'), reduction: STREAMING_MEAN, server: new AdaptiveServer(o, secondMoment) });
    this.options = o;
  }
}
