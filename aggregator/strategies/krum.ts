import { OptionsError } from '../../protocol/index.js';
import { krumSelect, mean } from './aggregate.js';
import { AggregatingStrategy, type BufferedReduce } from './aggregatingStrategy.js';

/** Byzantine devices tolerated when the spec names none. */
export const DEFAULT_KRUM_F = 1;

/**
 * Multi-Krum's reduction: the unweighted mean of the m deltas of lowest Krum score (m = 1:
 * Krum's single choice). `m` undefined means n - f; a larger m than n - f is cut to n - f.
 * The strategy's `minUpdates` (2f + 3) keeps this from running with too few.
 */
function multiKrumReduce(f: number, m: number | undefined): BufferedReduce {
  return (updates) => {
    const deltas = updates.map((u) => u.delta);
    const keep = Math.min(m ?? deltas.length - f, deltas.length - f);
    return mean(krumSelect(deltas, f, keep).map((k) => deltas[k]!));
  };
}

function checkF(name: string, f: number): void {
  if (!(Number.isInteger(f) && f >= 0)) throw new OptionsError('strategy', `${name}: f must be a non-negative integer, got ${f}`);
}

/**
 * Krum (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient
 * Descent"): the one delta whose n - f - 2 nearest neighbours are closest, tolerating f
 * Byzantine devices. Needs n >= 2f + 3 accepted updates (`minUpdates`); with fewer, the round
 * keeps the global. Unweighted; ties go to the lower device id. Buffered: n decoded float32
 * deltas (4 n P bytes) plus an n x n distance matrix; O(n^2 P) time.
 */
export class Krum extends AggregatingStrategy {
  constructor(readonly f: number = DEFAULT_KRUM_F) {
    checkF('krum', f);
    super({ name: `krum:${f}`, reduction: { kind: 'buffered', reduce: multiKrumReduce(f, 1) }, minUpdates: 2 * f + 3 });
  }
}

/**
 * Multi-Krum (Blanchard et al. 2017, §4): the unweighted mean of the m best-scored deltas,
 * m = n - f unless given. Same needs and memory as Krum.
 */
export class MultiKrum extends AggregatingStrategy {
  constructor(
    readonly f: number = DEFAULT_KRUM_F,
    readonly m?: number,
  ) {
    checkF('multikrum', f);
    if (m !== undefined && !(Number.isInteger(m) && m >= 1)) throw new OptionsError('strategy', `multikrum: m must be a positive integer, got ${m}`);
    super({
      name: m === undefined ? `multikrum:${f}` : `multikrum:${f}:${m}`,
      reduction: { kind: 'buffered', reduce: multiKrumReduce(f, m) },
      minUpdates: 2 * f + 3,
    });
  }
}
