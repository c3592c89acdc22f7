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
  /**
   * Devices selected per round, m (the expectation when selection is random): the default of
   * rounds begun without a `RoundSampling`. Absent: every round must give its own.
   */
  expectedParticipants?: number;
  /** Devices that could be selected, N (with `expectedParticipants`). */
  fleetSize?: number;
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

/**
 * Who could take part in one round: `participants` devices were selected (m, every one may
 * contribute: the fixed denominator) among `eligible` (N). The round's q is m / N.
 */
export interface RoundSampling {
  participants: number;
  eligible: number;
}

/** One round in progress: clip each update as it arrives, then `finish` the sum. */
export interface DpRound {
  readonly clipNorm: number;
  /** The fixed denominator: participants selected (m). */
  readonly participants: number;
  /** This round's sampling rate q = m / N. */
  readonly samplingRate: number;
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
  /** Sampling rate q = m / N of rounds begun without a sampling; NaN without defaults. */
  readonly samplingRate: number;
  /** Multiplier of the noise added to the sum at the default m (z_delta with adaptive clipping, else z); NaN without defaults. */
  readonly valueNoiseMultiplier: number;
  /** Std of the adaptive count's noise at the default m; null with a fixed clip. */
  readonly countStd: number | null;
  private rdp: RdpAccountant;
  private readonly noise: GaussianSource;
  private readonly adaptive: AdaptiveClip | null;
  private fixedClip: number;
  private readonly defaults: RoundSampling | null;

  constructor(readonly options: CentralDpOptions) {
    const { spec, expectedParticipants: m, fleetSize: n } = options;
    if (spec.local) throw new OptionsError('dp', 'CentralDp is for central DP; a local spec is applied on the devices');
    this.defaults = m === undefined && n === undefined ? null : { participants: m ?? NaN, eligible: n ?? NaN };
    if (this.defaults) checkSampling(this.defaults);
    this.samplingRate = this.defaults ? this.defaults.participants / this.defaults.eligible : NaN;
    this.noise = options.noise ?? secureGaussian();
    this.rdp = new RdpAccountant(spec.delta, { sampling: spec.sampling });
    if (spec.clip.kind === 'adaptive') {
      const { initialClip, targetQuantile, learningRate } = spec.clip;
      const mm = this.defaults?.participants ?? 1;
      const countStd = countStdFor(spec.clip, mm);
      this.valueNoiseMultiplier = this.defaults ? this.multipliers(mm).value : NaN;
      this.countStd = countStd;
      this.adaptive = new AdaptiveClip({ initialClip, targetQuantile, learningRate, countStd, expectedParticipants: mm }, this.noise);
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

  /** Epsilon if one more round ran (at the default sampling, or `sampling`'s). */
  epsilonAfterNextRound(sampling?: RoundSampling): number {
    return this.accountant.epsilonAfter(this.options.spec.noiseMultiplier, this.sampling(sampling).participants / this.sampling(sampling).eligible);
  }

  /** False when the spec has a budget and one more round would take epsilon above it. */
  mayRunNextRound(sampling?: RoundSampling): boolean {
    return this.refusal(sampling) === null;
  }

  /**
   * Why a round with this sampling may not run, or null: one more round would take epsilon
   * above the budget (`RdpAccountant.wouldExceed`), or, with adaptive clipping, too few
   * participants for the count's noise (z must stay below 2 sigma_b).
   */
  refusal(sampling?: RoundSampling): { reason: 'budget' | 'participants'; detail: string; epsilonAfter: number } | null {
    const s = this.sampling(sampling);
    const q = s.participants / s.eligible;
    const { noiseMultiplier: z, budget } = this.options.spec;
    const epsilonAfter = this.accountant.epsilonAfter(z, q);
    if (this.adaptive) {
      try {
        this.multipliers(s.participants);
      } catch (e) {
        return { reason: 'participants', detail: (e as Error).message, epsilonAfter };
      }
    }
    if (budget !== null && this.accountant.wouldExceed(budget, { noiseMultiplier: z, samplingRate: q })) {
      return { reason: 'budget', detail: `one more round (q = ${round4(q)}) would take epsilon from ${round4(this.epsilon())} to ${round4(epsilonAfter)}, above the budget ${budget}`, epsilonAfter };
    }
    return null;
  }

  beginRound(sampling?: RoundSampling): DpRound {
    const { participants, eligible } = this.sampling(sampling);
    const samplingRate = participants / eligible;
    const clipNorm = this.clipNorm;
    const adaptive = this.adaptive;
    // A round begun but never finished (too few updates, stopped) leaves no count behind.
    adaptive?.discardRound();
    const { value, countStd } = adaptive ? this.multipliers(participants) : { value: this.options.spec.noiseMultiplier, countStd: null };
    let updates = 0;
    let clipped = 0;
    let finished = false;
    return {
      clipNorm,
      participants,
      samplingRate,
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
        const noiseStd = value * clipNorm;
        this.noise.addNoise(sum, noiseStd);
        const step = adaptive?.finishRound({ expectedParticipants: participants, countStd: countStd! }) ?? null;
        this.accountant.addRound(this.options.spec.noiseMultiplier, samplingRate);
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

  private sampling(sampling?: RoundSampling): RoundSampling {
    const s = sampling ?? this.defaults;
    if (!s) throw new RangeError('this CentralDp has no default sampling: give the round\'s participants and eligible devices');
    if (sampling) checkSampling(sampling);
    return s;
  }

  /** z_delta and sigma_b for m participants (adaptive clipping); throws OptionsError when z >= 2 sigma_b. */
  private multipliers(m: number): { value: number; countStd: number } {
    const clip = this.options.spec.clip;
    if (clip.kind !== 'adaptive') return { value: this.options.spec.noiseMultiplier, countStd: NaN };
    const countStd = countStdFor(clip, m);
    try {
      return { value: adjustedNoiseMultiplier(this.options.spec.noiseMultiplier, countStd), countStd };
    } catch (err) {
      throw new OptionsError('dp', `"${this.options.spec.spec}" with ${m} expected participants: ${(err as Error).message}`, { cause: err });
    }
  }
}

function checkSampling({ participants: m, eligible: n }: RoundSampling): void {
  if (!(Number.isInteger(n) && n >= 1)) throw new OptionsError('dp', `the fleet size must be a whole number >= 1, got ${n}`);
  if (!(m > 0 && m <= n)) throw new OptionsError('dp', `expected participants must be in (0, ${n}], got ${m}`);
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
