import { OptionsError } from '../../protocol/index.js';
import { clipToNorm, type ClipResult } from './clipping.js';
import type { DpSpec } from './dpSpec.js';
import { secureGaussian, type GaussianSource } from './gaussian.js';
import { privacySpent, type PrivacySpent } from './rdp.js';

/**
 * Local DP, for a fleet that does not trust its aggregator: the device clips its raw update
 * (local - global) to L2 norm C and adds N(0, (z C)^2) to every coordinate BEFORE it encodes;
 * the codec, the broker and the aggregator then only post-process a released value, which
 * cannot weaken the guarantee (Dwork & Roth 2014, Proposition 2.1). Error feedback must keep
 * its residual against the noised update it sent, never the clean one, or the clean update
 * would leak into later rounds; the residual is the device's own and never leaves it.
 *
 * The guarantee is per device and per message: any two datasets the device could hold give
 * clipped updates at most 2C apart, so one message is the Gaussian mechanism with sensitivity
 * 2C and noise z C, i.e. multiplier z / 2. A device that took part in k rounds has released k
 * of them: RDP alpha * k * 2 / z^2 at order alpha (Mironov 2017, Proposition 7 and
 * composition), converted as the central accountant converts. No amplification by sampling:
 * the aggregator, who is the adversary here, knows who was selected.
 */
export class LocalDp {
  readonly clipNorm: number;
  readonly noiseMultiplier: number;
  private readonly noise: GaussianSource;

  constructor(spec: DpSpec, noise: GaussianSource = secureGaussian()) {
    if (!spec.local) throw new OptionsError('dp', `"${spec.spec}" is central DP; LocalDp needs "local"`);
    if (spec.clip.kind !== 'fixed') throw new OptionsError('dp', 'local DP needs a fixed clip norm');
    this.clipNorm = spec.clip.norm;
    this.noiseMultiplier = spec.noiseMultiplier;
    this.noise = noise;
  }

  /**
   * The device's side, from what the task message carries (`TaskMessage.dp`): noise multiplier
   * z and clip norm C. Throws RangeError unless both are positive and finite.
   */
  static of(noiseMultiplier: number, clipNorm: number, noise: GaussianSource = secureGaussian()): LocalDp {
    if (!(noiseMultiplier > 0 && Number.isFinite(noiseMultiplier))) throw new RangeError(`local DP: noise multiplier must be > 0, got ${noiseMultiplier}`);
    if (!(clipNorm > 0 && Number.isFinite(clipNorm))) throw new RangeError(`local DP: clip norm must be > 0, got ${clipNorm}`);
    const spec: DpSpec = {
      spec: `noise:${noiseMultiplier},clip:${clipNorm},local`, noiseMultiplier, clip: { kind: 'fixed', norm: clipNorm },
      delta: 1e-5, budget: null, local: true, sampling: 'poisson',
    };
    return new LocalDp(spec, noise);
  }

  /** Std of the noise each device adds to each coordinate: z C. */
  get noiseStd(): number {
    return this.noiseMultiplier * this.clipNorm;
  }

  /** Clips the raw update in place and adds the device's noise; call before encoding. */
  privatize(update: Float32Array | Float64Array): ClipResult {
    const result = clipToNorm(update, this.clipNorm);
    this.noise.addNoise(update, this.noiseStd);
    return result;
  }
}

/**
 * A device's epsilon after `participations` noised messages with multiplier z (see
 * `LocalDp`): the Gaussian mechanism with multiplier z / 2, composed, with no sampling.
 */
export function localPrivacySpent(noiseMultiplier: number, participations: number, delta: number): PrivacySpent {
  if (!(noiseMultiplier > 0)) throw new RangeError(`noise multiplier must be > 0, got ${noiseMultiplier}`);
  if (participations === 0) return { epsilon: 0, order: NaN };
  return privacySpent(noiseMultiplier / 2, 1, participations, delta);
}

/** As `localPrivacySpent`, epsilon only. */
export function localEpsilon(noiseMultiplier: number, participations: number, delta: number): number {
  return localPrivacySpent(noiseMultiplier, participations, delta).epsilon;
}
