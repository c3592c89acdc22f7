import { describe, expect, it } from 'vitest';
import { SecAggError } from './errors.js';
import { chooseGraphParams, logFactorial } from './params.js';

const threat = (corruptRate: number, dropoutRate: number) => ({ corruptRate, dropoutRate, security: 40, correctness: 20 });

describe('SecAgg+ parameters (Bell et al. 2020)', () => {
  // (n, gamma, delta) -> (k, t_max): the precomputed table of Google's reference implementation
  // (fcp/secagg/server/graph_parameter_finder_test.cc, semi-honest server, sigma = 40, eta = 20);
  // there, as here, k must match exactly and t may be lower.
  const table: [number, number, number, number, number][] = [
    [100, 0.45, 0.45, 92, 46], [1000, 0.45, 0.45, 822, 417], [10000, 0.45, 0.45, 3494, 1771],
    [100, 0.33, 0.33, 68, 34], [1000, 0.33, 0.33, 286, 150], [10000, 0.33, 0.33, 422, 221],
    [100000, 0.33, 0.33, 480, 251], [1000000, 0.33, 0.33, 518, 270],
    [100, 0.05, 0.33, 28, 6], [1000, 0.05, 0.33, 72, 24], [10000, 0.05, 0.33, 86, 29],
    [100000, 0.05, 0.33, 96, 32], [1000000, 0.05, 0.33, 102, 34],
    [100, 0.33, 0.05, 34, 29], [1000, 0.33, 0.05, 78, 60], [10000, 0.33, 0.05, 92, 70],
    [100000, 0.33, 0.05, 102, 77], [1000000, 0.33, 0.05, 110, 83],
  ];
  it.each(table)('n=%i gamma=%f delta=%f gives k=%i and t <= %i', (n, gamma, delta, k, tMax) => {
    const p = chooseGraphParams(n, threat(gamma, delta));
    expect(p.k).toBe(k);
    expect(p.t).toBeLessThanOrEqual(tMax);
    expect(p.t).toBeGreaterThanOrEqual(2);
  });

  it('keeps t reachable at small n, where the reference clamps t to 2 past its bound', () => {
    // The reference gives (4, 2) at n = 10; with 3 of 10 dropping, 4 neighbours keep < 2 survivors
    // with probability 7/210, so the next k is taken.
    expect(chooseGraphParams(10, threat(0.05, 0.33))).toEqual({ n: 10, k: 6, t: 2 });
  });

  it('grows k like log n with the defaults (1/3 dropouts, 5% colluders)', () => {
    // Past the small-n regime, each tenfold of n adds a roughly constant number of neighbours.
    const ks = [1000, 10000, 100000, 1000000].map((n) => chooseGraphParams(n).k);
    for (let i = 1; i < ks.length; i++) expect(ks[i]! - ks[i - 1]!).toBeLessThanOrEqual(20);
    expect(ks[3]).toBeLessThan(128);
  });

  it('falls back to the complete graph for tiny fleets and refuses fewer than 3 devices', () => {
    expect(chooseGraphParams(5)).toMatchObject({ k: 4 });
    expect(() => chooseGraphParams(2)).toThrow(SecAggError);
  });

  it('computes log factorials on both sides of the table/Stirling switch', () => {
    let exact = 0;
    for (let i = 1; i <= 2000; i++) exact += Math.log(i);
    expect(logFactorial(2000)).toBeCloseTo(exact, 8);
    expect(logFactorial(10)).toBeCloseTo(Math.log(3628800), 12);
  });
});
