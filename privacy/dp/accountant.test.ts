import { describe, expect, it } from 'vitest';
import { RdpAccountant } from './accountant.js';
import { epsilon } from './rdp.js';

describe('the incremental accountant', () => {
  it("reaches Opacus's 7.3291 one round at a time, as Opacus's RDPAccountant.step does", () => {
    // Prepare: opacus/tests/accountants_test.py lines 94-104, 2,250 steps of (1.5, 0.04).
    const accountant = new RdpAccountant(1e-5);
    // Execute
    for (let round = 0; round < 2250; round++) accountant.addRound(1.5, 0.04);
    // Assert
    expect(accountant.rounds).toBe(2250);
    expect(accountant.epsilon()).toBeCloseTo(7.32911117143, 8);
    expect(accountant.state().history).toEqual([{ noiseMultiplier: 1.5, samplingRate: 0.04, rounds: 2250 }]);
  });

  it('spends nothing before the first round and grows with every round', () => {
    const accountant = new RdpAccountant(1e-5);
    expect(accountant.epsilon()).toBe(0);
    let last = 0;
    for (let round = 1; round <= 50; round++) {
      accountant.addRound(1.0, 0.1);
      const now = accountant.epsilon();
      expect(now).toBeGreaterThan(last);
      expect(now).toBeCloseTo(epsilon(1.0, 0.1, round, 1e-5), 12);
      last = now;
    }
  });

  it('composes rounds of different noise and sampling rate as the sum of their RDP', () => {
    // Prepare: 100 rounds at (1.2, 0.05), then 50 at (2.0, 0.1), then 10 more at (1.2, 0.05).
    const accountant = new RdpAccountant(1e-6);
    // Execute
    accountant.addRounds(1.2, 0.05, 100);
    accountant.addRounds(2.0, 0.1, 50);
    for (let k = 0; k < 10; k++) accountant.addRound(1.2, 0.05);
    // Assert: between the epsilon of either part alone and the sum of the parts' epsilons (RDP composes more tightly).
    const total = accountant.epsilon();
    expect(total).toBeGreaterThan(epsilon(1.2, 0.05, 110, 1e-6));
    expect(total).toBeLessThan(epsilon(1.2, 0.05, 110, 1e-6) + epsilon(2.0, 0.1, 50, 1e-6));
    expect(accountant.state().history).toEqual([
      { noiseMultiplier: 1.2, samplingRate: 0.05, rounds: 100 },
      { noiseMultiplier: 2.0, samplingRate: 0.1, rounds: 50 },
      { noiseMultiplier: 1.2, samplingRate: 0.05, rounds: 10 },
    ]);
  });

  it('says a run must stop before the round that would take it past its budget', () => {
    // Prepare: at (1.1, 0.01) with delta 1e-5, find how many rounds fit a budget of 1.0.
    const budget = 1.0;
    const accountant = new RdpAccountant(1e-5);
    expect(() => accountant.wouldExceed(budget)).toThrow(/no round yet/);
    expect(accountant.wouldExceed(budget, { noiseMultiplier: 1.1, samplingRate: 0.01 })).toBe(false);
    // Execute: the loop a coordinator runs.
    let rounds = 0;
    while (!accountant.wouldExceed(budget, { noiseMultiplier: 1.1, samplingRate: 0.01 })) {
      accountant.addRound(1.1, 0.01);
      rounds++;
      expect(rounds).toBeLessThan(100_000);
    }
    // Assert: within budget now, over it after one more.
    expect(accountant.epsilon()).toBeLessThanOrEqual(budget);
    expect(epsilon(1.1, 0.01, rounds + 1, 1e-5)).toBeGreaterThan(budget);
    expect(accountant.wouldExceed(budget)).toBe(true);
    expect(accountant.epsilonAfter(1.1, 0.01)).toBeCloseTo(epsilon(1.1, 0.01, rounds + 1, 1e-5), 12);
    expect(accountant.rounds).toBe(rounds);
  });

  it('is rebuilt exactly from its state (checkpoints)', () => {
    const accountant = new RdpAccountant(1e-5);
    accountant.addRounds(1.3, 0.02, 40);
    accountant.addRounds(0.9, 0.02, 3);
    const copy = RdpAccountant.fromState(JSON.parse(JSON.stringify(accountant.state())));
    expect(copy.epsilon()).toBe(accountant.epsilon());
    expect(copy.delta).toBe(1e-5);
  });

  it('rejects a bad delta, a negative noise multiplier and a fractional round count', () => {
    expect(() => new RdpAccountant(0)).toThrow(/delta/);
    const accountant = new RdpAccountant(1e-5);
    expect(() => accountant.addRound(-1, 0.1)).toThrow(/noise multiplier/);
    expect(() => accountant.addRounds(1, 0.1, 1.5)).toThrow(/whole number/);
  });
});
