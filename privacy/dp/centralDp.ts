import { OptionsError } from '../../protocol/index.js';
import { RdpAccountant, type AccountantState } from './accountant.js';
import { AdaptiveClip, adjustedNoiseMultiplier } from './adaptiveClip.js';
import { clipToNorm, type ClipResult } from './clipping.js';
import { countStdFor, type DpSpec } from './dpSpec.js';
import { secureGaussian, type GaussianSource } from './gaussian.js';

/**
 * Central DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018, Algorithm 1) as the aggregator
 * runs it: each DECODED update is clipped to L2 norm C (so the bound holds whatever a device
 * sent, under any codec), the clipped updates are summed, N(0, (z C)^2) is added to every
 * coordinate of the sum once, and the caller divides by the EXPECTED number of participants
 * (the paper's fixed-denominator estimator: dividing by the actual count would make the
 * denominator depend on who took part). With adaptive clipping the sum gets z_delta C and
 * the unclipped count sigma_b, which together are worth multiplier z (Andrew et al. 2021).
 * The accountant composes one sampled Gaussian per round with multiplier z and q = m / N,
 * under the spec's sampling analysis (Poisson by default; `sampling:fixed-size` for fedmq's
 * exact-count selection).
 */
export interface CentralDpOptions {
  /** The parsed `--dp` spec (not `local`). */
  spec: DpSpec;
  /** Devices selected per round, m (the expectation when selection is random). */
  expectedParticipants: number;
  /** Devices that could be selected, N. */
  fleetSize: number;
  /** Where the noise comes from. @default secureGaussian() */
  noise?: GaussianSource;
}

/** What one DP round did, for metrics and the report. */
export interface DpRoundSummary {
  /** Clip norm this round's updates were clipped to. */
  clipNorm: number;
  /** Std of the noise added to each coordinate of the sum (z or z_delta times C). */
  noiseStd: number;
  /** Updates clipped in this round. */
  updates: number;
  /** Of them, scaled down (longer than C). */
  clipped: number;
  /** Adaptive clipping's noised unclipped fraction; null with a fixed clip. */
  noisyUnclippedFraction: number | null;
  /** Clip norm of the next round. */
  nextClipNorm: number;
  /** Epsilon spent after this round, at `delta`. */
  epsilon: number;
  delta: number;
}

/** One round in progress: clip each update as it arrives, then `finish` the sum. */
export interface DpRound {
  readonly clipNorm: number;
  /** Clips a decoded update in place and counts it. */
  clip(update: Float32Array | Float64Array): ClipResult;
  /** Adds the noise to the sum of this round's clipped updates in place and records the round. */
  finish(sum: Float32Array | Float64Array): DpRoundSummary;
}

/** What a checkpoint keeps: the accountant and the adaptive clip norm. */
export interface CentralDpState {
  accountant: AccountantState;
  clipNorm: number;
}

export class CentralDp {
  /** Sampling rate q = m / N used by the accountant. */
  readonly samplingRate: number;
  /** Multiplier of the noise actually added to the sum (z_delta with adaptive clipping, else z). */
  readonly valueNoiseMultiplier: number;
  /** Std of the adaptive count's noise; null with a fixed clip. */
  readonly countStd: number | null;
  private rdp: RdpAccountant;
  private readonly noise: GaussianSource;
  private readonly adaptive: AdaptiveClip | null;
  private fixedClip: number;

  constructor(readonly options: CentralDpOptions) {
    const { spec, expectedParticipants: m, fleetSize: n } = options;
    if (spec.local) throw new OptionsError('dp', 'CentralDp is for central DP; a local spec is applied on the devices');
    if (!(Number.isInteger(n) && n >= 1)) throw new OptionsError('dp', `the fleet size must be a whole number >= 1, got ${n}`);
    if (!(m > 0 && m <= n)) throw new OptionsError('dp', `expected participants must be in (0, ${n}], got ${m}`);
    this.samplingRate = m / n;
    this.noise = options.noise ?? secureGaussian();
    this.rdp = new RdpAccountant(spec.delta, { sampling: spec.sampling });
    if (spec.clip.kind === 'adaptive') {
      const countStd = countStdFor(spec.clip, m);
      try {
        this.valueNoiseMultiplier = adjustedNoiseMultiplier(spec.noiseMultiplier, countStd);
      } catch (err) {
        throw new OptionsError('dp', `"${spec.spec}" with ${m} expected participants: ${(err as Error).message}`, { cause: err });
      }
      this.countStd = countStd;
      const { initialClip, targetQuantile, learningRate } = spec.clip;
      this.adaptive = new AdaptiveClip({ initialClip, targetQuantile, learningRate, countStd, expectedParticipants: m }, this.noise);
      this.fixedClip = NaN;
    } else {
      this.valueNoiseMultiplier = spec.noiseMultiplier;
      this.countStd = null;
      this.adaptive = null;
      this.fixedClip = spec.clip.norm;
    }
  }

  /** The run's accountant (replaced by `loadState`). */
  get accountant(): RdpAccountant {
    return this.rdp;
  }

  /** The clip norm the next round will use. */
  get clipNorm(): number {
    return this.adaptive ? this.adaptive.clip : this.fixedClip;
  }

  /** Epsilon spent so far. */
  epsilon(): number {
    return this.accountant.epsilon();
  }

  /** Epsilon if one more round ran. */
  epsilonAfterNextRound(): number {
    return this.accountant.epsilonAfter(this.options.spec.noiseMultiplier, this.samplingRate);
  }

  /** False when the spec has a budget and one more round would take epsilon above it. */
  mayRunNextRound(): boolean {
    const budget = this.options.spec.budget;
    return budget === null || this.epsilonAfterNextRound() <= budget;
  }

  beginRound(): DpRound {
    const clipNorm = this.clipNorm;
    const adaptive = this.adaptive;
    let updates = 0;
    let clipped = 0;
    let finished = false;
    return {
      clipNorm,
      clip: (update) => {
        if (finished) throw new Error('this DP round is finished');
        const result = clipToNorm(update, clipNorm);
        updates++;
        if (!result.unclipped) clipped++;
        adaptive?.observe(result.norm);
        return result;
      },
      finish: (sum) => {
        if (finished) throw new Error('this DP round is finished');
        finished = true;
        const noiseStd = this.valueNoiseMultiplier * clipNorm;
        this.noise.addNoise(sum, noiseStd);
        const step = adaptive?.finishRound() ?? null;
        this.accountant.addRound(this.options.spec.noiseMultiplier, this.samplingRate);
        return {
          clipNorm,
          noiseStd,
          updates,
          clipped,
          noisyUnclippedFraction: step ? step.noisyFraction : null,
          nextClipNorm: step ? step.nextClip : clipNorm,
          epsilon: this.accountant.epsilon(),
          delta: this.options.spec.delta,
        };
      },
    };
  }

  state(): CentralDpState {
    return { accountant: this.accountant.state(), clipNorm: this.clipNorm };
  }

  /** Restores a checkpoint taken with the same spec. */
  loadState(state: CentralDpState): void {
    const restored = RdpAccountant.fromState(state.accountant, this.accountant.orders);
    if (restored.sampling !== this.accountant.sampling) throw new OptionsError('dp', `the checkpoint was accounted with ${restored.sampling} sampling, this run with ${this.accountant.sampling}`);
    if (restored.delta !== this.accountant.delta) throw new OptionsError('dp', `the checkpoint's delta ${restored.delta} is not this run's ${this.accountant.delta}`);
    this.rdp = restored;
    if (this.adaptive) this.adaptive.clip = state.clipNorm;
  }
}
