import { OptionsError, type Codec } from '../protocol/index.js';
import { needsIndividualUpdates } from './strategies/index.js';
import type { DpSpec } from '../privacy/index.js';

/**
 * `--secagg` (docs/privacy.md, Secure aggregation): every training round is a SecAgg+ round.
 * The update codec is replaced by the secure-aggregation quantization (each coordinate clipped
 * to [-clip, clip] and rounded stochastically into Z_2^32; a masked vector is dense, so top-k
 * and error feedback cannot survive masking), and the default influence bound is off (it needs
 * each update's length, which the aggregator never sees).
 */
export interface SecAggOptions {
  /** Per-coordinate clip of the quantization. @default 1 */
  clip: number;
  /** The codec spec the quantization replaced (for the start-up line). */
  replaces: string;
}

export const DEFAULT_SECAGG_CLIP = 1;

/** What a caller may pass: `true`, or the clip. */
export type SecAggSetting = boolean | { clip?: number; replaces?: string };

/** The setting resolved (null: off); `codec` is the codec it replaces. */
export function resolveSecAgg(setting: SecAggSetting | undefined, codec: Codec): SecAggOptions | undefined {
  if (setting === undefined || setting === false) return undefined;
  const given = setting === true ? {} : setting;
  const clip = given.clip ?? DEFAULT_SECAGG_CLIP;
  if (!(Number.isFinite(clip) && clip > 0 && clip <= 1e6)) throw new OptionsError('secagg', `clip must be a number in (0, 1e6], got ${clip}`);
  return { clip, replaces: given.replaces ?? codec.spec };
}

/** Why `--secagg` cannot hold with these settings (one line), or null. */
export function secaggRefusal(o: { mode: string; strategy: { name: string }; dp: DpSpec | undefined }): string | null {
  if (o.mode === 'async') {
    return 'async mode is not supported with secure aggregation: a SecAgg+ round masks and unmasks the updates of one set of devices together, and FedBuff folds in each update alone as it arrives; use --mode sync';
  }
  const what = needsIndividualUpdates(o.strategy.name, true);
  if (what !== null) {
    return `secure aggregation cannot run with --strategy ${o.strategy.name}: ${what} needs the individual updates, and under secure aggregation the aggregator learns only their sum; use fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad or momentum:...+fedavg`;
  }
  if (o.dp && !o.dp.local && o.dp.clip.kind !== 'fixed') {
    return 'secure aggregation with adaptive clipping is not supported: the clip moves with the count of clipped updates, which needs each update\'s norm; give --dp a fixed clip (each device clips to it before masking)';
  }
  return null;
}
