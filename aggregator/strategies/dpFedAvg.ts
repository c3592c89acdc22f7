import { DecodeError, DecodeReason, OptionsError, Rng, f32Codec, type RoundPrivacy } from '../../protocol/index.js';
import { needsIndividualUpdates } from './needsIndividualUpdates.js';
import { CentralDp, type DpRoundSummary, type DpSpec, type GaussianSource, type RoundSampling, type SamplingScheme } from '../../privacy/index.js';
import type { FitResult, RoundAggregation, Strategy, StrategyState } from './strategy.js';

/** f32 encoding draws nothing; the codec interface wants a generator all the same. */
const UNUSED_RNG = new Rng(0);
/** The one "update" the inner strategy sees: the round's noised mean. */
export const DP_MEAN_ID = 'dp-mean';

/** Checkpoint state names (F64 tensors): the accountant's history as (z, q, rounds) triples, then delta, sampling and the clip norm. */
const HISTORY = 'dp.history';
const PARAMS = 'dp.params';
const SAMPLINGS: readonly SamplingScheme[] = ['poisson', 'fixed-size'];

/** Why central DP cannot run around `strategyName` (a strategy spec), or null when it can. */
export function dpStrategyRefusal(strategyName: string): string | null {
  // DP-FedAvg releases only the clipped, noised sum: one device could move a robust rule's output by more than the clip.
  const what = needsIndividualUpdates(strategyName);
  return what === null ? null : `central DP cannot run with --strategy ${strategyName}: ${what} needs the individual updates, but DP-FedAvg releases only their clipped, noised sum (one device could move a robust rule's output by more than the clip, and the noise is calibrated to the clip); use fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad or momentum:...+fedavg`;
}

/**
 * Central DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018) around a mean-based strategy: each
 * DECODED update is clipped to L2 norm C (privacy/dp/centralDp.ts), the clipped updates are
 * summed with weight 1 (FedAvg's example weighting would let a device with many examples
 * move the sum by more than C), N(0, (z C)^2) is added to the sum once (z_delta C with
 * adaptive clipping), and the sum is divided by the number of devices SELECTED for the round
 * (the fixed denominator: it does not depend on who reported). The inner strategy then gets
 * that noised mean as its round's only update, so its server step (momentum, Adam) is
 * post-processing of a private value. Each round's sampling (m selected of N eligible) is
 * given by `plan` before `beginRound`; only a round whose `finish` returns weights is
 * accounted.
 *
 * State: the inner strategy's, and the accountant's history and clip norm under `dp.*`
 * (`privacyState`), so a checkpoint keeps the epsilon spent and a thrown-away round can be
 * undone with the rest.
 */
export class DpFedAvg implements Strategy {
  readonly name: string;
  readonly proximalMu: number | undefined;
  readonly minUpdates = 1;
  readonly dp: CentralDp;
  /** What the last finished round did, null before the first. */
  last: DpRoundSummary | null = null;
  private next: RoundSampling | null = null;

  constructor(
    readonly inner: Strategy,
    readonly spec: DpSpec,
    noise?: GaussianSource,
  ) {
    const refusal = dpStrategyRefusal(inner.name);
    if (refusal) throw new OptionsError('dp', refusal);
    if ((inner.minUpdates ?? 1) > 1) throw new OptionsError('dp', `central DP cannot run with --strategy ${inner.name}: it needs ${inner.minUpdates} updates, DP-FedAvg gives it one noised mean`);
    this.dp = new CentralDp({ spec, ...(noise && { noise }) });
    this.name = `dp(${spec.spec})+${inner.name}`;
    this.proximalMu = inner.proximalMu;
  }

  /**
   * The next round's sampling: `participants` selected of `eligible`. Returns why the round may
   * not run (over budget; too few participants for adaptive clipping's count noise), or null.
   */
  plan(sampling: RoundSampling): ReturnType<CentralDp['refusal']> {
    const refusal = this.dp.refusal(sampling);
    this.next = refusal ? null : sampling;
    return refusal;
  }

  /** Epsilon so far and the settings it was spent with, for `metrics`. */
  privacy(): RoundPrivacy {
    const { spec } = this;
    return {
      mode: 'central', epsilon: this.dp.epsilon(), delta: spec.delta, noiseMultiplier: spec.noiseMultiplier,
      clip: this.last?.clipNorm ?? this.dp.clipNorm, rounds: this.dp.accountant.rounds, ...(spec.budget !== null && { budget: spec.budget }),
    };
  }

  /** The inner strategy's state and the accountant's. */
  saveState(): StrategyState {
    return { ...this.inner.saveState(), ...this.privacyState() };
  }

  loadState(state: StrategyState): void {
    this.inner.loadState(state);
    this.loadPrivacyState(state);
  }

  /** The accountant and clip norm as F64 arrays under `dp.*` (empty before the first round). */
  privacyState(): StrategyState {
    const s = this.dp.state();
    if (s.accountant.history.length === 0) return {};
    return {
      [HISTORY]: Float64Array.from(s.accountant.history.flatMap((e) => [e.noiseMultiplier, e.samplingRate, e.rounds])),
      [PARAMS]: Float64Array.of(s.accountant.delta, SAMPLINGS.indexOf(s.accountant.sampling ?? 'poisson'), s.clipNorm),
    };
  }

  /**
   * Puts back what `privacyState` returned; without `dp.*` the accountant starts from nothing.
   * Throws `OptionsError('dp')` for a state accounted at another delta or sampling analysis.
   */
  loadPrivacyState(state: StrategyState): void {
    const history = state[HISTORY];
    const params = state[PARAMS];
    const initialClip = this.spec.clip.kind === 'fixed' ? this.spec.clip.norm : this.spec.clip.initialClip;
    if (!history || !params) {
      this.dp.loadState({ accountant: { delta: this.spec.delta, sampling: this.spec.sampling, history: [] }, clipNorm: initialClip });
      this.last = null;
      return;
    }
    const sampling = SAMPLINGS[params[1]!];
    if (history.length % 3 !== 0 || params.length !== 3 || sampling === undefined) throw new OptionsError('dp', 'the checkpoint\'s DP state is malformed');
    const entries = [];
    for (let i = 0; i < history.length; i += 3) entries.push({ noiseMultiplier: history[i]!, samplingRate: history[i + 1]!, rounds: history[i + 2]! });
    this.dp.loadState({ accountant: { delta: params[0]!, sampling, history: entries }, clipNorm: params[2]! });
  }

  beginRound(round: number, global: Float32Array): RoundAggregation {
    const sampling = this.next;
    this.next = null;
    if (!sampling) throw new Error('DpFedAvg: plan() the round\'s sampling before beginRound');
    const dpRound = this.dp.beginRound(sampling);
    const sum = new Float64Array(global.length);
    let count = 0;
    return {
      add(result: FitResult): void {
        // Decoding validates: a malformed update throws DecodeError before anything is summed.
        const delta = result.codec.decode(result.delta, global.length);
        for (let i = 0; i < delta.length; i++) {
          if (!Number.isFinite(delta[i]!)) throw new DecodeError(DecodeReason.NonFinite, 'the update decodes to values that are not finite');
        }
        dpRound.clip(delta);
        for (let i = 0; i < delta.length; i++) sum[i]! += delta[i]!;
        count++;
      },
      finish: (failures: string[]): Float32Array | null => {
        if (count === 0) return null;
        this.last = dpRound.finish(sum);
        const mean = new Float32Array(sum.length);
        for (let i = 0; i < sum.length; i++) mean[i] = sum[i]! / dpRound.participants;
        const inner = this.inner.beginRound(round, global);
        inner.add({ deviceId: DP_MEAN_ID, numExamples: 1, codec: f32Codec, delta: f32Codec.encode(mean, UNUSED_RNG) });
        return inner.finish(failures);
      },
    };
  }
}
