import { DEFAULT_ORDERS, computeRdp, rdpToEpsilon, type PrivacySpent } from './rdp.js';
import { computeRdpWithoutReplacement } from './rdpWithoutReplacement.js';

/**
 * How participants are drawn, which decides the analysis:
 * - `poisson`: each device independently with probability q, add/remove-one-device
 *   neighbours (Mironov et al. 2019); the customary number, and the one published values use.
 * - `fixed-size`: exactly q n devices uniformly without replacement, as fedmq selects;
 *   replace-one-device neighbours, so the sum's sensitivity is 2C (Wang et al. 2019,
 *   Theorem 27, at sigma = z / 2): a provable bound for fedmq's selection, and a larger one.
 */
export type SamplingScheme = 'poisson' | 'fixed-size';

export interface RdpAccountantOptions {
  /** @default 'poisson' */
  sampling?: SamplingScheme;
  /** Orders searched. @default DEFAULT_ORDERS */
  orders?: readonly number[];
}

/** Rounds run with one noise multiplier and sampling rate, in order (as Opacus keeps its history). */
export interface AccountantEntry {
  noiseMultiplier: number;
  samplingRate: number;
  rounds: number;
}

/** What a checkpoint keeps of an accountant: enough to rebuild it exactly. */
export interface AccountantState {
  delta: number;
  /** Absent in states written before the option existed: poisson. */
  sampling?: SamplingScheme;
  history: AccountantEntry[];
}

/**
 * The privacy spent so far by a run, round by round: each `addRound` composes one more
 * sampled Gaussian mechanism (RDP adds order by order, Mironov 2017 Proposition 1), and
 * `epsilon` converts the total with the improved conversion (see `rdpToEpsilon`). A run asks
 * `wouldExceed(budget)` before each round and stops instead of starting a round that would
 * take epsilon past its budget. Rounds may change noise or sampling rate (e.g. a fleet that
 * grows); each distinct pair is computed once.
 */
export class RdpAccountant {
  readonly orders: readonly number[];
  readonly sampling: SamplingScheme;
  private readonly total: Float64Array;
  private readonly history: AccountantEntry[] = [];
  private readonly perRound = new Map<string, Float64Array>();

  constructor(
    readonly delta: number,
    options: RdpAccountantOptions = {},
  ) {
    if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
    this.orders = options.orders ?? DEFAULT_ORDERS;
    this.sampling = options.sampling ?? 'poisson';
    if (this.sampling !== 'poisson' && this.sampling !== 'fixed-size') throw new RangeError(`unknown sampling scheme ${String(this.sampling)}`);
    this.total = new Float64Array(this.orders.length);
  }

  /** Rebuilds an accountant from `state()`. */
  static fromState(state: AccountantState, orders: readonly number[] = DEFAULT_ORDERS): RdpAccountant {
    const accountant = new RdpAccountant(state.delta, { orders, sampling: state.sampling ?? 'poisson' });
    for (const e of state.history) accountant.addRounds(e.noiseMultiplier, e.samplingRate, e.rounds);
    return accountant;
  }

  /** Rounds composed so far. */
  get rounds(): number {
    let n = 0;
    for (const e of this.history) n += e.rounds;
    return n;
  }

  /** Composes one round with noise multiplier z (noise std / sensitivity) and sampling rate q. */
  addRound(noiseMultiplier: number, samplingRate: number): void {
    this.addRounds(noiseMultiplier, samplingRate, 1);
  }

  /** Composes `rounds` rounds with the same z and q. */
  addRounds(noiseMultiplier: number, samplingRate: number, rounds: number): void {
    if (!(Number.isInteger(rounds) && rounds >= 0)) throw new RangeError(`rounds must be a whole number >= 0, got ${rounds}`);
    if (rounds === 0) return;
    const step = this.rdpOfRound(noiseMultiplier, samplingRate);
    for (let k = 0; k < step.length; k++) this.total[k]! += step[k]! * rounds;
    const last = this.history[this.history.length - 1];
    if (last && last.noiseMultiplier === noiseMultiplier && last.samplingRate === samplingRate) last.rounds += rounds;
    else this.history.push({ noiseMultiplier, samplingRate, rounds });
  }

  /** Epsilon spent so far at this accountant's delta (0 before any round). */
  epsilon(): number {
    return this.spent().epsilon;
  }

  /** Epsilon so far and the order it came from. */
  spent(): PrivacySpent {
    if (this.history.length === 0) return { epsilon: 0, order: NaN };
    return rdpToEpsilon(this.orders, this.total, this.delta);
  }

  /** Epsilon if one more round with (z, q) were run; nothing is recorded. */
  epsilonAfter(noiseMultiplier: number, samplingRate: number): number {
    const step = this.rdpOfRound(noiseMultiplier, samplingRate);
    const next = new Float64Array(this.total.length);
    for (let k = 0; k < next.length; k++) next[k] = this.total[k]! + step[k]!;
    return rdpToEpsilon(this.orders, next, this.delta).epsilon;
  }

  /**
   * Whether one more round would take epsilon above `budget`. The round's (z, q) default to
   * the last round's; before the first round they must be given.
   */
  wouldExceed(budget: number, next?: { noiseMultiplier: number; samplingRate: number }): boolean {
    const last = this.history[this.history.length - 1];
    const round = next ?? last;
    if (!round) throw new RangeError('wouldExceed: no round yet, so the next round\'s noise multiplier and sampling rate must be given');
    return this.epsilonAfter(round.noiseMultiplier, round.samplingRate) > budget;
  }

  /** A copy of the history, for checkpoints and reports. */
  state(): AccountantState {
    return { delta: this.delta, sampling: this.sampling, history: this.history.map((e) => ({ ...e })) };
  }

  private rdpOfRound(noiseMultiplier: number, samplingRate: number): Float64Array {
    if (!(noiseMultiplier >= 0)) throw new RangeError(`noise multiplier must be >= 0, got ${noiseMultiplier}`);
    const key = `${noiseMultiplier}/${samplingRate}`;
    let step = this.perRound.get(key);
    if (!step) {
      step =
        this.sampling === 'poisson'
          ? computeRdp(samplingRate, noiseMultiplier, 1, this.orders)
          : computeRdpWithoutReplacement(samplingRate, noiseMultiplier / 2, 1, this.orders);
      this.perRound.set(key, step);
    }
    return step;
  }
}
