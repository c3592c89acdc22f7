import { describe, expect, it } from 'vitest';
import { OptionsError, Rng, build, decodeMessage, encodeMessage, f32Codec } from '../../protocol/index.js';
import { RdpAccountant, parseDp, seededGaussian } from '../../privacy/index.js';
import { DpFedAvg, dpStrategyRefusal } from './dpFedAvg.js';
import { FedAvg } from './fedAvg.js';
import { FedAvgM } from './fedAvgM.js';
import { parseStrategy } from './registry.js';

const rng = new Rng(0);
const fit = (deviceId: string, values: number[], numExamples = 1): { deviceId: string; numExamples: number; codec: typeof f32Codec; delta: Uint8Array } => ({
  deviceId, numExamples, codec: f32Codec, delta: f32Codec.encode(Float32Array.from(values), rng),
});

describe('DpFedAvg', () => {
  it('clips each decoded update, sums them unweighted, divides by the devices selected and adds noise of std z C to the sum', () => {
    const spec = parseDp('noise:2,clip:1,delta:1e-5');
    const dp = new DpFedAvg(new FedAvg(), spec, seededGaussian('sum'));
    const global = new Float32Array(4);
    expect(dp.plan({ participants: 4, eligible: 40 })).toBeNull();
    const round = dp.beginRound(1, global);
    // Norm 5 (clipped to 1), norm 0.5 (kept); many examples do not weigh more. Two of the 4 selected never reported.
    round.add(fit('a', [3, 4, 0, 0], 1000));
    round.add(fit('b', [0, 0, 0.5, 0], 1));

    const next = round.finish([])!;

    const sum = Float64Array.of(0.6, 0.8, 0.5, 0);
    seededGaussian('sum').addNoise(sum, 2 * 1);
    for (let i = 0; i < 4; i++) expect(next[i]).toBeCloseTo(sum[i]! / 4, 6);
    expect(dp.last).toMatchObject({ clipNorm: 1, noiseStd: 2, updates: 2, clipped: 1 });
    const accountant = new RdpAccountant(1e-5);
    accountant.addRound(2, 0.1);
    expect(dp.privacy()).toEqual({ mode: 'central', epsilon: accountant.epsilon(), delta: 1e-5, noiseMultiplier: 2, clip: 1, rounds: 1 });
  });

  it('accounts only rounds that finish, and refuses a round over budget before it begins', () => {
    const spec = parseDp('noise:1,clip:1,delta:1e-5,budget:3');
    const dp = new DpFedAvg(new FedAvg(), spec, seededGaussian(1));
    const global = new Float32Array(2);
    let finished = 0;
    for (;;) {
      const refusal = dp.plan({ participants: 10, eligible: 100 });
      if (refusal) {
        expect(refusal.reason).toBe('budget');
        expect(refusal.epsilonAfter).toBeGreaterThan(3);
        break;
      }
      const round = dp.beginRound(finished + 1, global);
      round.add(fit('a', [0.1, 0.1]));
      round.finish([]);
      finished++;
      // A round begun but never finished (below quorum) costs nothing.
      if (dp.plan({ participants: 10, eligible: 100 }) === null) dp.beginRound(finished + 1, global);
    }
    expect(dp.dp.accountant.rounds).toBe(finished);
    expect(dp.privacy().epsilon).toBeLessThanOrEqual(3);
  });

  it('keeps its accountant in F64 state beside the inner strategy\'s, and starts over from {}', () => {
    const spec = parseDp('noise:1.5,clip:adaptive,delta:1e-6');
    const make = (): DpFedAvg => new DpFedAvg(new FedAvgM(), spec, seededGaussian(2));
    const dp = make();
    const global = new Float32Array(3);
    for (let r = 1; r <= 3; r++) {
      dp.plan({ participants: 40, eligible: 400 + r });
      const round = dp.beginRound(r, global);
      for (let k = 0; k < 40; k++) round.add(fit(`d${k}`, [0.01 * k, 0, 0.02]));
      round.finish([]);
    }
    const state = dp.saveState();
    expect(Object.keys(state).filter((k) => k.startsWith('dp.')).sort()).toEqual(['dp.history', 'dp.params']);
    // The inner FedAvgM's momentum is kept beside it.
    expect(Object.keys(state).filter((k) => !k.startsWith('dp.'))).toEqual(Object.keys(dp.inner.saveState()));
    expect(Object.keys(dp.inner.saveState()).length).toBeGreaterThan(0);
    expect(state['dp.history']).toBeInstanceOf(Float64Array);

    const resumed = make();
    resumed.loadState(state);
    // The same epsilon and rounds; the clip shown is the next round's until a round runs.
    expect(resumed.privacy()).toEqual({ ...dp.privacy(), clip: dp.dp.clipNorm });
    expect(resumed.dp.clipNorm).toBe(dp.dp.clipNorm);
    resumed.loadState({});
    expect(resumed.privacy()).toMatchObject({ epsilon: 0, rounds: 0, clip: 0.1 });
    // A checkpoint accounted at another delta is refused, not merged.
    const other = new DpFedAvg(new FedAvg(), parseDp('noise:1.5,clip:adaptive,delta:1e-5'));
    expect(() => other.loadPrivacyState(state)).toThrow(/delta/);
  });

  it('refuses strategies that need the individual updates, naming why', () => {
    for (const spec of ['median', 'trimmed-mean:0.1', 'krum:1', 'multikrum:1:3', 'cclip:1', 'bucket:2+fedavg', 'normbound:5+median', 'momentum:0.9:1+median']) {
      expect(dpStrategyRefusal(parseStrategy(spec).name), spec).toMatch(/needs the individual updates/);
      expect(() => new DpFedAvg(parseStrategy(spec), parseDp('noise:1,clip:1,delta:1e-5')), spec).toThrow(OptionsError);
    }
    for (const spec of ['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'momentum:0.9:1+fedavg', 'normbound:5+fedavg']) {
      expect(dpStrategyRefusal(parseStrategy(spec).name), spec).toBeNull();
    }
  });
});

describe('privacy on the wire', () => {
  const metrics = (privacy: unknown): Uint8Array => encodeMessage({
    ...build.metrics({ round: 1, accuracy: 0.5, loss: 1, participants: 1, accepted: 1, rejected: 0, rejectedByReason: {}, bytesUp: 0, bytesDown: 0, trainMs: 0, aggregateMs: 0, wallMs: 0 }),
    privacy,
  } as never);

  it('carries metrics.privacy and refuses it out of bounds', () => {
    const good = { mode: 'central', epsilon: 1.5, delta: 1e-5, noiseMultiplier: 1.1, clip: 0.5, rounds: 3, budget: 4 };
    expect(decodeMessage('metrics', metrics(good)).privacy).toEqual(good);
    for (const bad of [{ ...good, epsilon: -1 }, { ...good, delta: 1 }, { ...good, noiseMultiplier: 1e6 }, { ...good, clip: 0 }, { ...good, rounds: 1.5 }, { ...good, mode: 'both' }, 'x']) {
      expect(() => decodeMessage('metrics', metrics(bad)), JSON.stringify(bad)).toThrow();
    }
  });
});
