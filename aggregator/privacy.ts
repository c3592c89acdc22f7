import type { RoundPrivacy, TaskDp } from '../protocol/index.js';
import { localEpsilon, type DpSpec, type GaussianSource, type RoundSampling } from '../privacy/index.js';
import { DpFedAvg } from './strategies/dpFedAvg.js';
import type { Strategy, StrategyState } from './strategies/index.js';

/** Why a round may not run under `--dp`: over budget, or too few participants for adaptive clipping. */
export interface PrivacyRefusal {
  reason: 'budget' | 'participants';
  detail: string;
  /** Epsilon the refused round would have reached. */
  epsilonAfter: number;
}

/**
 * What a coordinator does with `--dp`: `plan` each round before it is announced (the
 * accountant's budget check), wrap its strategy (central DP), tell the task (local DP), and
 * publish epsilon with every round's metrics. Its state goes into checkpoints under `dp.*`.
 */
export interface PrivacyRun {
  readonly spec: DpSpec;
  /** Central DP: the strategy that clips, sums, noises and accounts; null for local DP. */
  readonly strategy: DpFedAvg | null;
  /** Local DP: what the task message tells the devices to apply; null for central. */
  readonly taskDp: TaskDp | null;
  /** The next round selects `participants` of `eligible`: why it may not run, or null. */
  plan(sampling: RoundSampling): PrivacyRefusal | null;
  /** Epsilon so far and its settings, for `metrics`. */
  privacy(): RoundPrivacy;
  /** The accountant's state, for a checkpoint. */
  saveState(): StrategyState;
  /** Puts back `saveState`'s (nothing: from the start); throws `OptionsError('dp')` for an incompatible one. */
  loadState(state: StrategyState): void;
}

/** The privacy side of a run with `--dp SPEC`: central DP around `strategy`, or local DP's accounting. */
export function createPrivacyRun(spec: DpSpec, strategy: Strategy, noise?: GaussianSource): PrivacyRun {
  return spec.local ? new LocalDpRun(spec) : new CentralDpRun(spec, new DpFedAvg(strategy, spec, noise));
}

class CentralDpRun implements PrivacyRun {
  readonly taskDp = null;
  constructor(
    readonly spec: DpSpec,
    readonly strategy: DpFedAvg,
  ) {}

  plan(sampling: RoundSampling): PrivacyRefusal | null {
    return this.strategy.plan(sampling);
  }

  privacy(): RoundPrivacy {
    return this.strategy.privacy();
  }

  saveState(): StrategyState {
    return this.strategy.privacyState();
  }

  loadState(state: StrategyState): void {
    this.strategy.loadPrivacyState(state);
  }
}

const LOCAL_ROUNDS = 'dp.localRounds';

/**
 * Local DP: devices clip and noise their own updates (the task's `dp`); the aggregator adds
 * nothing. It accounts conservatively for a device that took part in EVERY training round
 * announced (an update is released when the device sends it, whether or not the round's
 * result is published): `localEpsilon(z, rounds, delta)`, no amplification by sampling, and
 * stops before a round that would take that above the budget.
 */
class LocalDpRun implements PrivacyRun {
  readonly strategy = null;
  readonly taskDp: TaskDp;
  private rounds = 0;

  constructor(readonly spec: DpSpec) {
    if (spec.clip.kind !== 'fixed') throw new RangeError('local DP needs a fixed clip');
    this.taskDp = { noiseMultiplier: spec.noiseMultiplier, clip: spec.clip.norm };
  }

  plan(): PrivacyRefusal | null {
    const { noiseMultiplier: z, delta, budget } = this.spec;
    const epsilonAfter = localEpsilon(z, this.rounds + 1, delta);
    if (budget !== null && epsilonAfter > budget) {
      const now = localEpsilon(z, this.rounds, delta);
      return { reason: 'budget', detail: `one more round would take a device's local epsilon from ${round4(now)} to ${round4(epsilonAfter)}, above the budget ${budget}`, epsilonAfter };
    }
    this.rounds++;
    return null;
  }

  privacy(): RoundPrivacy {
    const { noiseMultiplier, delta, budget } = this.spec;
    return {
      mode: 'local', epsilon: localEpsilon(noiseMultiplier, this.rounds, delta), delta, noiseMultiplier, clip: this.taskDp.clip,
      rounds: this.rounds, ...(budget !== null && { budget }),
    };
  }

  saveState(): StrategyState {
    return this.rounds === 0 ? {} : { [LOCAL_ROUNDS]: Float64Array.of(this.rounds) };
  }

  loadState(state: StrategyState): void {
    const saved = state[LOCAL_ROUNDS]?.[0];
    this.rounds = saved !== undefined && Number.isInteger(saved) && saved >= 0 ? saved : 0;
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
