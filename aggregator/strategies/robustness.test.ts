import { describe, expect, it } from 'vitest';
import { Rng } from '../../protocol/index.js';
import { mean } from './aggregate.js';
import { parseStrategy } from './index.js';
import { normalVector, relativeError, runRound, stepOf, type TestUpdate } from './testSupport.js';

const P = 2000;
const DEVICES = 20;
const ATTACKERS = 4; // 20%

/**
 * Honest deltas share a direction (mu) with per-device noise of half its size; the last
 * `ATTACKERS` devices send `attack(theirHonestDelta)` instead.
 */
function round(attack: (honest: Float32Array) => Float32Array, seed: number): { updates: TestUpdate[]; honestMean: Float64Array } {
  const rng = new Rng(seed);
  const mu = normalVector(P, rng, 0.01);
  const honest = Array.from({ length: DEVICES }, () => Float32Array.from(normalVector(P, rng, 0.005), (e, i) => mu[i]! + e));
  const updates = honest.map((h, k) => ({
    id: `d${String(k).padStart(2, '0')}`,
    examples: 50 + rng.int(100),
    delta: k >= DEVICES - ATTACKERS ? attack(h) : h,
  }));
  return { updates, honestMean: mean(honest.slice(0, DEVICES - ATTACKERS)) };
}

const ATTACKS = {
  'sign-flipped x10': (h: Float32Array) => h.map((v) => -10 * v),
  'scaled x10': (h: Float32Array) => h.map((v) => 10 * v),
};

/** ||step - honest mean|| / ||honest mean|| for each strategy, under each attack. */
function errors(spec: string): Record<keyof typeof ATTACKS, number> {
  const global = new Float32Array(P);
  const out = {} as Record<keyof typeof ATTACKS, number>;
  for (const [name, attack] of Object.entries(ATTACKS) as [keyof typeof ATTACKS, (h: Float32Array) => Float32Array][]) {
    const { updates, honestMean } = round(attack, 11);
    out[name] = relativeError(stepOf(runRound(parseStrategy(spec), global, updates)!, global), honestMean);
  }
  return out;
}

describe('robust strategies with 20% of the updates sign-flipped x10 or scaled x10', () => {
  it('fedavg is dragged far from the honest mean', () => {
    const e = errors('fedavg');
    // The mean moves to about (0.8 - 0.2 * 10) mu = -1.2 mu (error 2.2), or (0.8 + 0.2 * 10) mu (error 1.8).
    expect(e['sign-flipped x10']).toBeGreaterThan(1.5);
    expect(e['scaled x10']).toBeGreaterThan(1.5);
  });

  for (const spec of ['median', 'trimmed-mean:0.2', 'multikrum:4', 'krum:4', 'normbound:0.5+median', 'cclip:0.5:10']) {
    it(`${spec} stays close to the honest mean`, () => {
      const e = errors(spec);
      // The median and the trimmed mean shift by a fraction of the honest spread (0.5 |mu|);
      // Multi-Krum keeps exactly the honest updates; Krum one honest update (its own noise, 0.5).
      expect(e['sign-flipped x10']).toBeLessThan(spec.startsWith('krum') ? 0.6 : 0.35);
      expect(e['scaled x10']).toBeLessThan(spec.startsWith('krum') ? 0.6 : 0.35);
    });
  }

  it('normbound alone caps what the attackers add to fedavg', () => {
    const plain = errors('fedavg');
    const bounded = errors('normbound:0.5+fedavg');
    expect(bounded['scaled x10']).toBeLessThan(plain['scaled x10'] / 3);
    expect(bounded['sign-flipped x10']).toBeLessThan(plain['sign-flipped x10'] / 2);
  });
});
