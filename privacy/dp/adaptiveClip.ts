import type { GaussianSource } from './gaussian.js';

/**
 * Adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy 2021, "Differentially Private
 * Learning with Adaptive Clipping"): the clip norm C follows a target quantile gamma of the
 * updates' norms. Each round, every update contributes b_i = 1 if its norm <= C (it was not
 * clipped); the fraction is released with Gaussian noise and C moves geometrically:
 *
 *   b = (sum_i (b_i - 1/2) + N(0, sigma_b^2)) / m + 1/2, clamped to [0, 1]
 *   C <- C * exp(-eta * (b - gamma))
 *
 * where m is the expected number of participants. Centring b_i at 1/2 halves the count's
 * sensitivity to 1/2 (as TF-Privacy's `QuantileEstimatorQuery` does), so the count is a
 * Gaussian mechanism with noise multiplier 2 sigma_b.
 */

/** The paper's defaults (section 3 and the experiments; TensorFlow Federated's `gaussian_adaptive`). */
export const DEFAULT_TARGET_QUANTILE = 0.5;
export const DEFAULT_CLIP_LEARNING_RATE = 0.2;
export const DEFAULT_INITIAL_CLIP = 0.1;
/** sigma_b = m / 20: the released fraction is within about +-0.1 of the truth 95% of the time. */
export const COUNT_STD_PER_PARTICIPANT = 1 / 20;

/**
 * The noise multiplier for the updates' sum so that it and the clipped count together are
 * as private as one Gaussian mechanism with multiplier z (the paper, section 3.1): the two
 * releases compose like a Gaussian with 1/z^2 = 1/z_delta^2 + 1/(2 sigma_b)^2, so
 * z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2). Needs z < 2 sigma_b; throws otherwise.
 */
export function adjustedNoiseMultiplier(noiseMultiplier: number, countStd: number): number {
  if (!(noiseMultiplier > 0)) throw new RangeError(`noise multiplier must be > 0, got ${noiseMultiplier}`);
  if (!(countStd > 0)) throw new RangeError(`the clipped count's noise std must be > 0, got ${countStd}`);
  if (noiseMultiplier >= 2 * countStd) {
    throw new RangeError(
      `noise multiplier ${noiseMultiplier} needs the clipped count's noise std above ${noiseMultiplier / 2} (it is ${countStd}): raise countstd or the expected participants, or lower the noise`,
    );
  }
  return (noiseMultiplier ** -2 - (2 * countStd) ** -2) ** -0.5;
}

export interface AdaptiveClipOptions {
  /** Starting clip norm. @default 0.1 */
  initialClip: number;
  /** Target fraction of updates left unclipped, gamma in (0, 1). @default 0.5 */
  targetQuantile: number;
  /** Geometric learning rate eta. @default 0.2 */
  learningRate: number;
  /** Std of the noise on the unclipped count, sigma_b (0: no noise, no privacy for it). */
  countStd: number;
  /** Expected participants per round, m: the denominator of the fraction. */
  expectedParticipants: number;
}

/** What one round of adaptive clipping saw and did. */
export interface AdaptiveClipStep {
  /** Clip norm used this round. */
  clip: number;
  /** Updates counted this round. */
  count: number;
  /** Of them, not clipped. */
  unclipped: number;
  /** The noised, clamped fraction the update used. */
  noisyFraction: number;
  /** Clip norm for the next round. */
  nextClip: number;
}

/** The clip norm's state across rounds; `observe` each update's norm, then `finishRound`. */
export class AdaptiveClip {
  private current: number;
  private count = 0;
  private unclipped = 0;

  constructor(
    readonly options: AdaptiveClipOptions,
    private readonly noise: GaussianSource,
  ) {
    const o = options;
    if (!(o.initialClip > 0 && Number.isFinite(o.initialClip))) throw new RangeError(`initial clip must be > 0, got ${o.initialClip}`);
    if (!(o.targetQuantile > 0 && o.targetQuantile < 1)) throw new RangeError(`target quantile must be in (0, 1), got ${o.targetQuantile}`);
    if (!(o.learningRate > 0 && Number.isFinite(o.learningRate))) throw new RangeError(`clip learning rate must be > 0, got ${o.learningRate}`);
    if (!(o.countStd >= 0 && Number.isFinite(o.countStd))) throw new RangeError(`count std must be >= 0, got ${o.countStd}`);
    if (!(o.expectedParticipants > 0)) throw new RangeError(`expected participants must be > 0, got ${o.expectedParticipants}`);
    this.current = o.initialClip;
  }

  /** The clip norm for the round in progress. */
  get clip(): number {
    return this.current;
  }

  /** Restores the clip norm (from a checkpoint). */
  set clip(value: number) {
    if (!(value > 0 && Number.isFinite(value))) throw new RangeError(`clip must be > 0, got ${value}`);
    this.current = value;
  }

  /** Counts one update of this round by its norm before clipping; returns whether it is within C. */
  observe(norm: number): boolean {
    const within = norm <= this.current;
    this.count++;
    if (within) this.unclipped++;
    return within;
  }

  /** Forgets the counts of a round that was begun but never finished (its result was not released). */
  discardRound(): void {
    this.count = 0;
    this.unclipped = 0;
  }

  /**
   * Releases the noised unclipped fraction, moves C, and starts the next round's count.
   * `round` overrides the expected participants and the count's noise std for this round (a
   * fleet whose selection size changes from round to round).
   */
  finishRound(round: Partial<Pick<AdaptiveClipOptions, 'expectedParticipants' | 'countStd'>> = {}): AdaptiveClipStep {
    const { targetQuantile, learningRate } = this.options;
    const m = round.expectedParticipants ?? this.options.expectedParticipants;
    const countStd = round.countStd ?? this.options.countStd;
    const centred = this.unclipped - 0.5 * this.count + countStd * this.noise.normal();
    const noisyFraction = Math.min(1, Math.max(0, centred / m + 0.5));
    const clip = this.current;
    const nextClip = clip * Math.exp(-learningRate * (noisyFraction - targetQuantile));
    const step = { clip, count: this.count, unclipped: this.unclipped, noisyFraction, nextClip };
    this.current = nextClip;
    this.count = 0;
    this.unclipped = 0;
    return step;
  }
}
