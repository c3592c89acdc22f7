import { OptionsError } from '../../protocol/index.js';
import type { Strategy } from './strategy.js';
import { Bucketing } from './bucketing.js';
import { CenteredClipping } from './centeredClipping.js';
import { FedAdagrad } from './fedAdagrad.js';
import { FedAdam } from './fedAdam.js';
import { FedAvg } from './fedAvg.js';
import { DEFAULT_FEDAVGM_BETA, DEFAULT_FEDAVGM_LR, FedAvgM } from './fedAvgM.js';
import { FedProx } from './fedProx.js';
import { FedYogi } from './fedYogi.js';
import { Krum, MultiKrum } from './krum.js';
import { Median } from './median.js';
import { NormBound } from './normBound.js';
import { WithServerMomentum } from './serverMomentum.js';
import { TrimmedMean } from './trimmedMean.js';

/**
 * Strategy spec strings this build understands; a trailing parameter may be left out, and
 * takes its default:
 *
 * | spec | defaults (source) |
 * | --- | --- |
 * | `fedavg` | (McMahan et al. 2017) |
 * | `fedprox:MU` | MU 0.01 (Li et al. 2020's grid {0.001, 0.01, 0.1, 1}) |
 * | `fedavgm:BETA:LR` | BETA 0.9, LR 1 (Hsu et al. 2019) |
 * | `fedadam:ETA:TAU:BETA1:BETA2`, `fedyogi:...` | ETA 0.03, TAU 0.001, BETA1 0.9, BETA2 0.99 (Reddi et al. 2021) |
 * | `fedadagrad:ETA:TAU:BETA1` | ETA 0.1, TAU 0.001, BETA1 0.9; Adagrad has no BETA2 |
 * | `median` | (Yin et al. 2018) |
 * | `trimmed-mean:BETA` | BETA 0.2 (Flower's FedTrimmedAvg; Yin et al. 2018) |
 * | `krum:F` | F 1 (Blanchard et al. 2017); needs 2F + 3 updates |
 * | `multikrum:F:M` | F 1, M = n - F (Blanchard et al. 2017) |
 * | `normbound:C+SPEC` | C required; SPEC fedavg (Sun et al. 2019) |
 * | `cclip:TAU:L` | TAU required, L 5 (Karimireddy et al. 2021) |
 * | `bucket:S+SPEC` | S required (Karimireddy et al. 2022) |
 * | `momentum:BETA:LR+SPEC` | BETA 0.9, LR 1, SPEC required (Hsu et al. 2019's server momentum on any strategy) |
 */
export const STRATEGY_SPECS = [
  'fedavg',
  'fedprox[:MU]',
  'fedavgm[:BETA[:LR]]',
  'fedadam[:ETA[:TAU[:BETA1[:BETA2]]]]',
  'fedyogi[:ETA[:TAU[:BETA1[:BETA2]]]]',
  'fedadagrad[:ETA[:TAU[:BETA1]]]',
  'median',
  'trimmed-mean[:BETA]',
  'krum[:F]',
  'multikrum[:F[:M]]',
  'normbound:C[+SPEC]',
  'cclip:TAU[:L]',
  'bucket:S+SPEC',
  'momentum[:BETA[:LR]]+SPEC',
] as const;

export const DEFAULT_STRATEGY = 'fedavg';

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

type Args = (number | undefined)[];

/** Each name's parameter names, in spec order, and how to build it from them. */
const BUILDERS: Record<string, { params: string[]; build: (a: Args) => Strategy }> = {
  fedavg: { params: [], build: () => new FedAvg() },
  fedprox: { params: ['MU'], build: ([mu]) => new FedProx(mu) },
  fedavgm: { params: ['BETA', 'LR'], build: ([beta, lr]) => new FedAvgM(defined({ beta, lr })) },
  fedadam: { params: ['ETA', 'TAU', 'BETA1', 'BETA2'], build: ([eta, tau, beta1, beta2]) => new FedAdam(defined({ eta, tau, beta1, beta2 })) },
  fedyogi: { params: ['ETA', 'TAU', 'BETA1', 'BETA2'], build: ([eta, tau, beta1, beta2]) => new FedYogi(defined({ eta, tau, beta1, beta2 })) },
  fedadagrad: { params: ['ETA', 'TAU', 'BETA1'], build: ([eta, tau, beta1]) => new FedAdagrad(defined({ eta, tau, beta1 })) },
  median: { params: [], build: () => new Median() },
  'trimmed-mean': { params: ['BETA'], build: ([beta]) => new TrimmedMean(beta) },
  krum: { params: ['F'], build: ([f]) => new Krum(f) },
  multikrum: { params: ['F', 'M'], build: ([f, m]) => new MultiKrum(f, m) },
  cclip: { params: ['TAU', 'L'], build: ([tau, l]) => new CenteredClipping(tau!, l) },
};

/**
 * Builds the strategy a spec names, e.g. `fedavg`, `trimmed-mean:0.1`, `multikrum:2:6`,
 * `fedadam:0.03` or `normbound:5+median`; throws `OptionsError('strategy', ...)` for anything
 * else. `strategy.name` is the spec in canonical form, defaults filled in.
 */
export function parseStrategy(spec: string): Strategy {
  if (typeof spec !== 'string' || spec === '') throw unknown(String(spec));
  if (spec.startsWith('normbound')) return normBound(spec);
  if (spec.startsWith('bucket')) return bucketing(spec);
  if (spec.startsWith('momentum')) return momentum(spec);
  if (spec.includes('+')) throw new OptionsError('strategy', `"${spec}": only normbound:C, bucket:S and momentum wrap another strategy (normbound:C+SPEC, bucket:S+SPEC, momentum:BETA:LR+SPEC)`);
  const [name = '', ...texts] = spec.split(':');
  const builder = BUILDERS[name];
  if (builder === undefined) throw unknown(spec);
  if (texts.length > builder.params.length) {
    const takes = builder.params.length === 0 ? 'no parameters' : `at most ${builder.params.join(':')}`;
    throw new OptionsError('strategy', `"${spec}": ${name} takes ${takes}`);
  }
  return builder.build(texts.map((text, i) => number(spec, builder.params[i]!, text)));
}

function normBound(spec: string): Strategy {
  const plus = spec.indexOf('+');
  const head = plus < 0 ? spec : spec.slice(0, plus);
  const [name, text, ...extra] = head.split(':');
  if (name !== 'normbound' || text === undefined || extra.length > 0) {
    throw new OptionsError('strategy', `"${spec}": expected normbound:C[+SPEC] with C the L2 bound`);
  }
  const bound = number(spec, 'C', text);
  if (plus < 0) return new NormBound(bound, new FedAvg());
  try {
    return new NormBound(bound, parseStrategy(spec.slice(plus + 1)));
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    throw new OptionsError('strategy', `"${spec}": ${e.message.slice('strategy: '.length)}`, { cause: e });
  }
}

function bucketing(spec: string): Strategy {
  const plus = spec.indexOf('+');
  const [name, text, ...extra] = (plus < 0 ? spec : spec.slice(0, plus)).split(':');
  if (name !== 'bucket' || text === undefined || extra.length > 0 || plus < 0) {
    throw new OptionsError('strategy', `"${spec}": expected bucket:S+SPEC with S the bucket size, e.g. bucket:2+median`);
  }
  const size = number(spec, 'S', text);
  try {
    return new Bucketing(size, parseStrategy(spec.slice(plus + 1)));
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    throw new OptionsError('strategy', `"${spec}": ${e.message.slice('strategy: '.length)}`, { cause: e });
  }
}

function momentum(spec: string): Strategy {
  const plus = spec.indexOf('+');
  const [name, betaText, lrText, ...extra] = (plus < 0 ? spec : spec.slice(0, plus)).split(':');
  if (name !== 'momentum' || extra.length > 0 || plus < 0) {
    throw new OptionsError('strategy', `"${spec}": expected momentum[:BETA[:LR]]+SPEC, e.g. momentum:0.9:1+median`);
  }
  const beta = betaText === undefined ? DEFAULT_FEDAVGM_BETA : number(spec, 'BETA', betaText);
  const lr = lrText === undefined ? DEFAULT_FEDAVGM_LR : number(spec, 'LR', lrText);
  try {
    return new WithServerMomentum(beta, lr, parseStrategy(spec.slice(plus + 1)));
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    throw new OptionsError('strategy', `"${spec}": ${e.message.slice('strategy: '.length)}`, { cause: e });
  }
}

/** Parameters that count devices or iterations. */
const INTEGER_PARAMS = new Set(['F', 'M', 'S', 'L']);

function number(spec: string, param: string, text: string): number {
  if (!NUMBER.test(text)) {
    const kind = INTEGER_PARAMS.has(param) ? 'integer' : 'number';
    throw new OptionsError('strategy', `"${spec}": ${param} must be a non-negative ${kind}, got "${text}"`);
  }
  return Number(text);
}

/** Drops undefined fields, so a spread over the defaults keeps them. */
function defined<T extends Record<string, number | undefined>>(o: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: number };
}

function unknown(spec: string): OptionsError {
  return new OptionsError('strategy', `unknown strategy "${spec}"; known: ${STRATEGY_SPECS.join(', ')}`);
}
