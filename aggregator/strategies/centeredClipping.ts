import { OptionsError } from '../../protocol/index.js';
import { centeredClip } from './aggregate.js';
import { AggregatingStrategy, type BufferedReduce, type Reduction } from './aggregatingStrategy.js';
import type { Stateful, StrategyState } from './strategy.js';

/** Iterations of the clipping fixed point: the reference implementations' default (5). */
export const DEFAULT_CCLIP_ITERATIONS = 5;

/**
 * The centre is the previous round's aggregate ("learning from history"), kept across rounds;
 * zero in the first round and whenever the model size changes.
 */
function centeredClipReduction(tau: number, iterations: number): Reduction {
  let previous: Float64Array = new Float64Array(0);
  const reduce: BufferedReduce = (updates) => {
    const deltas = updates.map((u) => u.delta);
    const length = deltas[0]!.length;
    if (previous.length !== length) previous = new Float64Array(length);
    previous = centeredClip(deltas, previous, tau, iterations);
    return previous;
  };
  const state: Stateful = {
    saveState: (): StrategyState => (previous.length > 0 ? { centre: previous.slice() } : {}),
    // Exactly what saveState returned: without a centre, zero (the first round's).
    loadState: (s) => {
      previous = s.centre?.slice() ?? new Float64Array(0);
    },
  };
  return { kind: 'buffered', reduce, state };
}

/**
 * Centered clipping (Karimireddy, He & Jaggi 2021, "Learning from History for Byzantine Robust
 * Optimization", ICML): starting from the previous round's aggregate v, repeat L times
 * v <- v + (1/n) sum_k clip_TAU(delta_k - v). An update may move the result by at most
 * TAU / n per iteration however long it is, and, unlike a coordinate-wise statistic, the
 * honest devices' disagreement on a non-IID split averages out instead of being discarded.
 * TAU (an L2 norm, in the units of a delta) is required: it should sit near the spread of
 * honest deltas. Spec `cclip:TAU[:L]`, L = 5 by default. Unweighted. Stateful (the centre).
 * Buffered: n decoded float32 deltas (4 n P bytes), plus 3 P float64 for the iteration and the
 * centre kept across rounds.
 */
export class CenteredClipping extends AggregatingStrategy {
  constructor(
    readonly tau: number,
    readonly iterations: number = DEFAULT_CCLIP_ITERATIONS,
  ) {
    if (!(tau > 0 && Number.isFinite(tau))) throw new OptionsError('strategy', `cclip: TAU must be a positive number, got ${tau}`);
    if (!(Number.isInteger(iterations) && iterations >= 1)) throw new OptionsError('strategy', `cclip: L must be an integer >= 1, got ${iterations}`);
    super({ name: `cclip:${tau}:${iterations}`, reduction: centeredClipReduction(tau, iterations) });
  }
}
