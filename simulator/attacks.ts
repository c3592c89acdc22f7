import { OptionsError, Rng, type Task } from '../protocol/index.js';
import type { TaskData } from '../learning/index.js';
import type { Trainer, TrainJob, TrainOutcome } from '../device-agent/index.js';

/**
 * Simulated Byzantine devices. A malicious device follows the protocol in every other way
 * (it connects, waits to be chosen, trains, encodes with the round's codec and reports
 * plausible metrics and timing); only the weights it returns are poisoned.
 */
export const ATTACK_KINDS = ['signflip', 'scale', 'noise', 'labelflip', 'zero'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

/**
 * PARAM defaults, chosen so that with 20% attackers plain FedAvg loses well over 10 points.
 * Measured on MNIST (mlp, 10 iid devices, E = 1, B = 20, lr 0.05, 5 rounds; no attack 0.936):
 * - signflip 4: the mean delta becomes 0.8 h - 0.2 * 4 h = 0: FedAvg stays at 0.08;
 * - scale 10 (boosting, Bhagoji et al. 2019): the mean becomes 2.8 h: FedAvg ends at 0.59;
 * - noise 300: about 75 times an honest round-1 delta (L2 norm ~4 for mlp and 2nn): FedAvg
 *   ends at 0.62 (2nn: 0.64 after 3 rounds); 20 costs under 1 point, 150 about 10.
 * labelflip and zero at 20% cost FedAvg about 1 point: they matter at larger fractions.
 */
export const DEFAULT_ATTACK_PARAMS = { signflip: 4, scale: 10, noise: 300 } as const;

/** Attack spec strings; FRACTION is the share of devices that are malicious, in [0, 1]. */
export const ATTACK_SPECS = ['signflip:FRACTION[:K]', 'scale:FRACTION[:FACTOR]', 'noise:FRACTION[:NORM]', 'labelflip:FRACTION', 'zero:FRACTION'] as const;

export interface Attack {
  kind: AttackKind;
  /** Share of the fleet that is malicious, in [0, 1]. */
  fraction: number;
  /** signflip: k in -k h; scale: the factor; noise: the L2 norm; undefined for labelflip and zero. */
  param: number | undefined;
  /** The canonical spec, defaults filled in: `parseAttack(spec)` gives this attack back. */
  spec: string;
}

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Parses `KIND:FRACTION[:PARAM]`, e.g. `signflip:0.2`, `scale:0.1:20`, `labelflip:0.3`;
 * throws `OptionsError('attack', ...)` for anything else.
 */
export function parseAttack(spec: string): Attack {
  const fail = (why: string): never => {
    throw new OptionsError('attack', `"${spec}": ${why}; known: ${ATTACK_SPECS.join(', ')}`);
  };
  if (typeof spec !== 'string') fail('not a string');
  const [kind = '', fractionText, paramText, ...extra] = spec.split(':');
  if (!(ATTACK_KINDS as readonly string[]).includes(kind)) fail(`unknown attack "${kind}"`);
  if (fractionText === undefined) fail('the fraction of malicious devices is missing');
  const fraction = NUMBER.test(fractionText!) ? Number(fractionText) : NaN;
  if (!(fraction >= 0 && fraction <= 1)) fail(`the fraction must be a number in [0, 1], got "${fractionText}"`);
  const k = kind as AttackKind;
  if (extra.length > 0 || (paramText !== undefined && (k === 'labelflip' || k === 'zero'))) fail(`too many parts for ${k}`);
  let param: number | undefined;
  if (k === 'signflip' || k === 'scale' || k === 'noise') {
    param = paramText === undefined ? DEFAULT_ATTACK_PARAMS[k] : NUMBER.test(paramText) ? Number(paramText) : NaN;
    if (!(param > 0 && Number.isFinite(param))) fail(`${k}'s parameter must be a positive number, got "${paramText}"`);
  }
  return { kind: k, fraction, param, spec: param === undefined ? `${k}:${fraction}` : `${k}:${fraction}:${param}` };
}

/**
 * The malicious devices: round(fraction * n) of `deviceIds`, drawn by `seed`. The same ids,
 * fraction and seed always give the same set, whatever order the ids come in.
 */
export function chooseAttackers(deviceIds: readonly string[], fraction: number, seed: number): Set<string> {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`chooseAttackers: fraction must be in [0, 1], got ${fraction}`);
  const ids = [...new Set(deviceIds)].sort();
  Rng.derive(seed, 'simulator.attackers').shuffle(ids);
  return new Set(ids.slice(0, Math.round(fraction * ids.length)));
}

/**
 * A `Trainer` that poisons what `inner` trains. It knows the round's global (`job.global`), so
 * it returns `global + f(honest delta)`:
 * - signflip: global - k h; scale: global + factor h; zero: the global itself (a free rider);
 * - noise: global + a Gaussian vector of L2 norm PARAM (fresh per job, drawn from `seed` and
 *   the job's own seed);
 * - labelflip: honest training on a copy of the data with its labels flipped (`flipLabels`:
 *   y -> C - 1 - y for C classes, 0 <-> 1 for a binary task; a regression task has no labels
 *   and its training rejects with `OptionsError`).
 * Every attack still runs `inner`, so its timing and train metrics look honest; `evaluate`
 * is `inner`'s, untouched. `dispose` disposes `inner`: do not call it on wrappers around a
 * trainer others still share.
 */
export function attackTrainer(inner: Trainer, attack: Attack, seed: number): Trainer {
  const flipped = new WeakMap<TaskData, TaskData>();
  const flip = (task: Task, data: TaskData): TaskData => {
    let copy = flipped.get(data);
    if (copy === undefined) {
      // A copy: the simulation's datasets are shared, never mutated.
      copy = { ...data, y: flipLabels(task, data.y) };
      flipped.set(data, copy);
    }
    return copy;
  };
  return {
    async train(job: TrainJob): Promise<TrainOutcome> {
      if (attack.kind === 'labelflip') return inner.train({ ...job, data: flip(job.task, job.data) });
      const outcome = await inner.train(job);
      return { ...outcome, weights: poison(attack, job, outcome.weights, seed) };
    },
    evaluate: (job) => inner.evaluate(job),
    dispose: () => inner.dispose(),
  };
}

/**
 * A copy of `y` (same array type) with every label flipped: y -> C - 1 - y for a task of C
 * classes, 0 <-> 1 for a binary task. Throws `OptionsError('attack', ...)` for a regression
 * task, whose targets are not labels.
 */
export function flipLabels(task: Task, y: TaskData['y']): TaskData['y'] {
  const out = task.output;
  if (out.kind === 'regression') {
    throw new OptionsError('attack', `labelflip needs a classification task; task "${task.name}" is a regression (its targets are not labels)`);
  }
  const top = out.kind === 'classes' ? out.classes - 1 : 1;
  return y.map((v) => top - v);
}

/** The weights a malicious device sends in place of `honest`. */
function poison(attack: Attack, job: TrainJob, honest: Float32Array, seed: number): Float32Array {
  const g = job.global;
  const out = new Float32Array(g.length);
  switch (attack.kind) {
    case 'signflip':
    case 'scale': {
      const factor = attack.kind === 'signflip' ? -attack.param! : attack.param!;
      for (let i = 0; i < g.length; i++) out[i] = g[i]! + factor * (honest[i]! - g[i]!);
      return out;
    }
    case 'noise': {
      const rng = Rng.derive(seed, 'simulator.attack.noise', job.options.seed);
      const noise = new Float64Array(g.length);
      let sq = 0;
      for (let i = 0; i < g.length; i++) {
        noise[i] = rng.normal();
        sq += noise[i]! * noise[i]!;
      }
      const factor = attack.param! / Math.sqrt(sq);
      for (let i = 0; i < g.length; i++) out[i] = g[i]! + factor * noise[i]!;
      return out;
    }
    case 'zero':
      out.set(g);
      return out;
    case 'labelflip':
      return honest;
  }
}
