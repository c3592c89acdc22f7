import { OptionsError } from '../../protocol/index.js';
import type { SamplingScheme } from './accountant.js';
import { COUNT_STD_PER_PARTICIPANT, DEFAULT_CLIP_LEARNING_RATE, DEFAULT_INITIAL_CLIP, DEFAULT_TARGET_QUANTILE } from './adaptiveClip.js';

/** The `--dp` grammar, for error messages and help. */
export const DP_SPEC_GRAMMAR = 'noise:Z,clip:C|adaptive,delta:D[,budget:EPS][,local][,sampling:poisson|fixed-size][,quantile:Q][,cliplr:ETA][,countstd:S][,initclip:C0]';

/** Adaptive clipping's settings (Andrew et al. 2021). */
export interface AdaptiveClipSpec {
  /** Target fraction of unclipped updates gamma. @default 0.5 */
  targetQuantile: number;
  /** Geometric learning rate eta. @default 0.2 */
  learningRate: number;
  /** Std of the unclipped count's noise, sigma_b; null: expected participants / 20. @default null */
  countStd: number | null;
  /** Clip norm of the first round. @default 0.1 */
  initialClip: number;
}

/** A parsed `--dp` spec: resolved once, passed on as this object. */
export interface DpSpec {
  /** Canonical spec string, for the report and the wire. */
  spec: string;
  /** Noise multiplier z: noise std over the L2 sensitivity (the clip norm). */
  noiseMultiplier: number;
  /** A fixed clip norm C, or adaptive clipping. */
  clip: { kind: 'fixed'; norm: number } | ({ kind: 'adaptive' } & AdaptiveClipSpec);
  /** The delta epsilon is reported at. */
  delta: number;
  /** Stop before a round that would take epsilon above this; null: no budget. @default null */
  budget: number | null;
  /** Local DP: each device clips and adds its own noise before encoding. @default false */
  local: boolean;
  /** The accountant's sampling analysis (see `SamplingScheme`). @default 'poisson' */
  sampling: SamplingScheme;
}

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const KEYS = ['noise', 'clip', 'delta', 'budget', 'local', 'sampling', 'quantile', 'cliplr', 'countstd', 'initclip'] as const;
type Key = (typeof KEYS)[number];
const ADAPTIVE_ONLY: readonly Key[] = ['quantile', 'cliplr', 'countstd', 'initclip'];
/** Above this the noise drowns any update; a typo more likely than a choice. */
const MAX_NOISE_MULTIPLIER = 1000;

/**
 * Parses `noise:Z,clip:C|adaptive,delta:D[,budget:EPS][,local]` (and, with `clip:adaptive`,
 * `quantile:Q`, `cliplr:ETA`, `countstd:S`, `initclip:C0`); throws `OptionsError('dp', ...)`
 * with a one-line reason for anything else.
 */
export function parseDp(spec: string): DpSpec {
  if (typeof spec !== 'string' || spec.trim() === '') fail(spec, `expected ${DP_SPEC_GRAMMAR}`);
  const values = new Map<Key, string | null>();
  for (const part of spec.split(',')) {
    const colon = part.indexOf(':');
    const name = (colon < 0 ? part : part.slice(0, colon)).trim();
    const value = colon < 0 ? null : part.slice(colon + 1).trim();
    if (!(KEYS as readonly string[]).includes(name)) fail(spec, `unknown setting "${name}"; expected ${DP_SPEC_GRAMMAR}`);
    const key = name as Key;
    if (values.has(key)) fail(spec, `"${key}" is given twice`);
    if (key === 'local' ? value !== null : value === null || value === '') {
      fail(spec, key === 'local' ? '"local" takes no value' : `"${key}" needs a value (${key}:VALUE)`);
    }
    values.set(key, value);
  }
  for (const required of ['noise', 'clip', 'delta'] as const) {
    if (!values.has(required)) fail(spec, `"${required}" is required; expected ${DP_SPEC_GRAMMAR}`);
  }

  const noiseMultiplier = number(spec, 'noise', values.get('noise')!);
  if (!(noiseMultiplier > 0)) fail(spec, 'noise must be > 0 (noise:0 gives no privacy; to bound updates without DP use --strategy normbound:C)');
  if (noiseMultiplier > MAX_NOISE_MULTIPLIER) fail(spec, `noise must be at most ${MAX_NOISE_MULTIPLIER}, got ${noiseMultiplier}`);
  const delta = number(spec, 'delta', values.get('delta')!);
  if (!(delta > 0 && delta < 1)) fail(spec, `delta must be in (0, 1), got ${delta}`);
  const budgetText = values.get('budget');
  const budget = budgetText === undefined ? null : number(spec, 'budget', budgetText!);
  if (budget !== null && !(budget > 0)) fail(spec, `budget must be > 0, got ${budget}`);
  const local = values.has('local');
  const samplingText = values.get('sampling') ?? 'poisson';
  if (samplingText !== 'poisson' && samplingText !== 'fixed-size') fail(spec, `sampling must be poisson or fixed-size, got "${samplingText}"`);
  const sampling: SamplingScheme = samplingText;
  if (local && values.has('sampling')) fail(spec, 'sampling does not apply to local DP (a device\'s epsilon has no amplification by sampling)');

  const clipText = values.get('clip')!;
  let clip: DpSpec['clip'];
  if (clipText === 'adaptive') {
    if (local) fail(spec, 'adaptive clipping needs the aggregator to count clipped updates, so it cannot be combined with local; give clip:C');
    const targetQuantile = optional(spec, values, 'quantile', DEFAULT_TARGET_QUANTILE);
    if (!(targetQuantile > 0 && targetQuantile < 1)) fail(spec, `quantile must be in (0, 1), got ${targetQuantile}`);
    const learningRate = optional(spec, values, 'cliplr', DEFAULT_CLIP_LEARNING_RATE);
    if (!(learningRate > 0)) fail(spec, `cliplr must be > 0, got ${learningRate}`);
    const countStd = values.has('countstd') ? number(spec, 'countstd', values.get('countstd')!) : null;
    if (countStd !== null && !(countStd > 0)) fail(spec, `countstd must be > 0, got ${countStd}`);
    if (countStd !== null && noiseMultiplier >= 2 * countStd) fail(spec, `countstd must exceed noise / 2 = ${noiseMultiplier / 2} (Andrew et al.'s z_delta = (z^-2 - (2 countstd)^-2)^-1/2 is undefined otherwise)`);
    const initialClip = optional(spec, values, 'initclip', DEFAULT_INITIAL_CLIP);
    if (!(initialClip > 0)) fail(spec, `initclip must be > 0, got ${initialClip}`);
    clip = { kind: 'adaptive', targetQuantile, learningRate, countStd, initialClip };
  } else {
    const norm = number(spec, 'clip', clipText);
    if (!(norm > 0)) fail(spec, `clip must be > 0 or "adaptive", got ${clipText}`);
    for (const key of ADAPTIVE_ONLY) if (values.has(key)) fail(spec, `"${key}" applies only to clip:adaptive`);
    clip = { kind: 'fixed', norm };
  }

  const parts = [`noise:${noiseMultiplier}`];
  if (clip.kind === 'fixed') parts.push(`clip:${clip.norm}`);
  else parts.push('clip:adaptive');
  parts.push(`delta:${delta}`);
  if (budget !== null) parts.push(`budget:${budget}`);
  if (local) parts.push('local');
  if (sampling !== 'poisson') parts.push(`sampling:${sampling}`);
  if (clip.kind === 'adaptive') {
    parts.push(`quantile:${clip.targetQuantile}`, `cliplr:${clip.learningRate}`);
    if (clip.countStd !== null) parts.push(`countstd:${clip.countStd}`);
    parts.push(`initclip:${clip.initialClip}`);
  }
  return { spec: parts.join(','), noiseMultiplier, clip, delta, budget, local, sampling };
}

/** The unclipped count's noise std for a run: as given, or the paper's m / 20. */
export function countStdFor(clip: AdaptiveClipSpec, expectedParticipants: number): number {
  return clip.countStd ?? COUNT_STD_PER_PARTICIPANT * expectedParticipants;
}

function number(spec: string, key: Key, text: string): number {
  const value = NUMBER.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) fail(spec, `${key} must be a number, got "${text}"`);
  return value;
}

function optional(spec: string, values: Map<Key, string | null>, key: Key, fallback: number): number {
  const text = values.get(key);
  return text === undefined || text === null ? fallback : number(spec, key, text);
}

function fail(spec: string, reason: string): never {
  throw new OptionsError('dp', `"${spec}": ${reason}`);
}
