import { describe, expect, it } from 'vitest';
import { OptionsError, Rng } from '../../protocol/index.js';
import { CentralDp } from './centralDp.js';
import { l2Norm } from './clipping.js';
import { parseDp } from './dpSpec.js';
import { seededGaussian } from './gaussian.js';
import { LocalDp, localEpsilon } from './localDp.js';
import { epsilon } from './rdp.js';

const update = (n: number, seed: number, scale: number): Float32Array => {
  const rng = new Rng(seed);
  return new Float32Array(n).map(() => rng.normal() * scale);
};

/** One central round: clip each update, sum in float64, finish (noise + accounting). */
function centralRound(dp: CentralDp, updates: Float32Array[]): { sum: Float64Array; summary: ReturnType<ReturnType<CentralDp['beginRound']>['finish']> } {
  const round = dp.beginRound();
  const sum = new Float64Array(updates[0]!.length);
  for (const u of updates) {
    round.clip(u);
    for (let i = 0; i < u.length; i++) sum[i]! += u[i]!;
  }
  return { sum, summary: round.finish(sum) };
}

describe('central DP-FedAvg (the aggregator clips decoded updates and noises the sum)', () => {
  it('bounds each update to C, adds noise of std z C to the sum, and accounts with q = m / N', () => {
    // Prepare: noise 1.0, clip 0.5; 10 of 1,000 devices a round; updates of norm ~3 (all clipped).
    const dp = new CentralDp({ spec: parseDp('noise:1,clip:0.5,delta:1e-5'), expectedParticipants: 10, fleetSize: 1000, noise: seededGaussian('central') });
    const updates = Array.from({ length: 10 }, (_, k) => update(20_000, k, 0.02));
    // Execute
    const { sum, summary } = centralRound(dp, updates);
    // Assert: every update clipped to <= 0.5; the sum minus the clipped updates is noise of std 0.5.
    for (const u of updates) expect(l2Norm(u)).toBeLessThanOrEqual(0.5);
    let ss = 0;
    for (let i = 0; i < sum.length; i++) {
      let clean = 0;
      for (const u of updates) clean += u[i]!;
      ss += (sum[i]! - clean) ** 2;
    }
    const std = Math.sqrt(ss / sum.length);
    expect(Math.abs(std / 0.5 - 1)).toBeLessThan(4 * Math.sqrt(1 / (2 * sum.length)));
    expect(summary).toMatchObject({ clipNorm: 0.5, noiseStd: 0.5, updates: 10, clipped: 10, noisyUnclippedFraction: null, nextClipNorm: 0.5, delta: 1e-5 });
    expect(dp.samplingRate).toBe(0.01);
    expect(summary.epsilon).toBeCloseTo(epsilon(1, 0.01, 1, 1e-5), 12);
  });

  it('stops before the round that would exceed the budget', () => {
    // Prepare: z 1.5, q 0.1 (10 of 100), delta 1e-5, budget 2 (about 20 rounds).
    const dp = new CentralDp({ spec: parseDp('noise:1.5,clip:1,delta:1e-5,budget:2'), expectedParticipants: 10, fleetSize: 100, noise: seededGaussian(1) });
    const updates = Array.from({ length: 10 }, (_, k) => update(10, k, 1));
    // Execute
    let rounds = 0;
    while (dp.mayRunNextRound()) {
      centralRound(dp, updates);
      rounds++;
    }
    // Assert: the last round ran within budget; one more would have crossed it.
    expect(rounds).toBeGreaterThan(10);
    expect(dp.epsilon()).toBeLessThanOrEqual(2);
    expect(dp.epsilonAfterNextRound()).toBeGreaterThan(2);
    expect(epsilon(1.5, 0.1, rounds, 1e-5)).toBeLessThanOrEqual(2);
    expect(epsilon(1.5, 0.1, rounds + 1, 1e-5)).toBeGreaterThan(2);
  });

  it('with adaptive clipping, adds z_delta C to the sum, moves C, and accounts z', () => {
    // Prepare: z 1, m 20 -> sigma_b 1, z_delta = (1 - 1/4)^-1/2 = 1.1547; start at C 0.1 with updates of norm ~1.
    const dp = new CentralDp({ spec: parseDp('noise:1,clip:adaptive,delta:1e-5'), expectedParticipants: 20, fleetSize: 200, noise: seededGaussian('adaptive') });
    expect(dp.countStd).toBe(1);
    expect(dp.valueNoiseMultiplier).toBeCloseTo(1 / Math.sqrt(0.75), 12);
    // Execute: 60 rounds.
    let last = null;
    for (let r = 0; r < 60; r++) last = centralRound(dp, Array.from({ length: 20 }, (_, k) => update(100, 1000 * r + k, 0.1))).summary;
    // Assert: C has grown from 0.1 to near the median norm (~1.0), noise followed C, and epsilon is that of z = 1.
    expect(dp.clipNorm).toBeGreaterThan(0.7);
    expect(dp.clipNorm).toBeLessThan(1.4);
    expect(last!.noiseStd).toBeCloseTo(dp.valueNoiseMultiplier * last!.clipNorm, 12);
    expect(last!.noisyUnclippedFraction).not.toBeNull();
    expect(dp.epsilon()).toBeCloseTo(epsilon(1, 0.1, 60, 1e-5), 10);
  });

  it('refuses adaptive clipping with too few participants for sigma_b, with the reason', () => {
    // z 2 needs sigma_b > 1, i.e. m > 20 at the default m / 20.
    expect(() => new CentralDp({ spec: parseDp('noise:2,clip:adaptive,delta:1e-5'), expectedParticipants: 20, fleetSize: 100 })).toThrow(OptionsError);
    expect(() => new CentralDp({ spec: parseDp('noise:2,clip:adaptive,delta:1e-5'), expectedParticipants: 20, fleetSize: 100 })).toThrow(/20 expected participants.*countstd/);
    expect(() => new CentralDp({ spec: parseDp('noise:1,clip:1,delta:1e-5'), expectedParticipants: 0, fleetSize: 100 })).toThrow(/expected participants/);
    expect(() => new CentralDp({ spec: parseDp('noise:1,clip:1,delta:1e-5,local'), expectedParticipants: 1, fleetSize: 100 })).toThrow(/local/);
  });

  it('resumes from a checkpoint with the same epsilon and clip norm', () => {
    const spec = parseDp('noise:1.2,clip:adaptive,delta:1e-6');
    const a = new CentralDp({ spec, expectedParticipants: 50, fleetSize: 500, noise: seededGaussian(3) });
    for (let r = 0; r < 5; r++) centralRound(a, Array.from({ length: 50 }, (_, k) => update(10, 100 * r + k, 1)));
    const b = new CentralDp({ spec, expectedParticipants: 50, fleetSize: 500, noise: seededGaussian(4) });
    b.loadState(JSON.parse(JSON.stringify(a.state())));
    expect(b.epsilon()).toBe(a.epsilon());
    expect(b.clipNorm).toBe(a.clipNorm);
    expect(b.accountant.rounds).toBe(5);
  });

  it('uses the CSPRNG unless a seeded source is passed', () => {
    const dp = new CentralDp({ spec: parseDp('noise:1,clip:1,delta:1e-5'), expectedParticipants: 1, fleetSize: 1 });
    const a = new Float32Array(100);
    const b = new Float32Array(100);
    dp.beginRound().finish(a);
    dp.beginRound().finish(b);
    expect(a).not.toEqual(b);
  });
});

describe('local DP (the device clips and noises its raw update before encoding)', () => {
  it('clips to C and adds noise of std z C on the device', () => {
    const local = new LocalDp(parseDp('noise:2,clip:0.25,delta:1e-5,local'), seededGaussian('local'));
    const raw = update(50_000, 9, 0.01); // norm ~2.2
    const clipped = Float32Array.from(raw);
    const factor = 0.25 / l2Norm(raw);
    const result = local.privatize(clipped);
    expect(result.unclipped).toBe(false);
    let ss = 0;
    for (let i = 0; i < raw.length; i++) ss += (clipped[i]! - raw[i]! * result.factor) ** 2;
    expect(result.factor).toBeCloseTo(factor, 6);
    expect(Math.abs(Math.sqrt(ss / raw.length) / 0.5 - 1)).toBeLessThan(4 * Math.sqrt(1 / (2 * raw.length)));
    expect(local.noiseStd).toBe(0.5);
  });

  it("states the per-device guarantee: the Gaussian mechanism with multiplier z / 2 (sensitivity 2C), composed over the device's rounds", () => {
    // One message at z = 2 is the unsampled Gaussian with multiplier 1.
    expect(localEpsilon(2, 1, 1e-5)).toBeCloseTo(epsilon(1, 1, 1, 1e-5), 12);
    expect(localEpsilon(2, 10, 1e-5)).toBeGreaterThan(localEpsilon(2, 1, 1e-5));
    expect(localEpsilon(2, 0, 1e-5)).toBe(0);
    // Far looser than central DP at the same z: no sampling, and twice the sensitivity.
    expect(localEpsilon(2, 100, 1e-5)).toBeGreaterThan(10 * epsilon(2, 0.1, 100, 1e-5));
  });

  it('refuses a central spec', () => {
    expect(() => new LocalDp(parseDp('noise:1,clip:1,delta:1e-5'))).toThrow(/LocalDp needs "local"/);
  });
});
