import { describe, expect, it } from 'vitest';
import { OptionsError } from '../../protocol/index.js';
import { FedAdam, FedAvg, FedAvgM, FedProx, Krum, MultiKrum, NormBound, STRATEGY_SPECS, TrimmedMean, parseStrategy } from './index.js';

describe('strategy specs', () => {
  it('fill in the papers’ defaults', () => {
    expect(parseStrategy('fedavg')).toBeInstanceOf(FedAvg);
    expect(parseStrategy('fedprox').name).toBe('fedprox:0.01');
    expect(parseStrategy('fedprox').proximalMu).toBe(0.01);
    expect(parseStrategy('fedavgm').name).toBe('fedavgm:0.9:1');
    expect(parseStrategy('fedadam').name).toBe('fedadam:0.03:0.001:0.9:0.99');
    expect(parseStrategy('fedyogi:0.03').name).toBe('fedyogi:0.03:0.001:0.9:0.99');
    expect(parseStrategy('fedadagrad').name).toBe('fedadagrad:0.1:0.001:0.9');
    expect(parseStrategy('trimmed-mean').name).toBe('trimmed-mean:0.2');
    expect(parseStrategy('krum').name).toBe('krum:1');
    expect(parseStrategy('multikrum:2').name).toBe('multikrum:2');
    expect(parseStrategy('normbound:5').name).toBe('normbound:5+fedavg');
    expect(parseStrategy('cclip:2').name).toBe('cclip:2:5');
    expect(parseStrategy('momentum+median').name).toBe('momentum:0.9:1+median');
    expect(parseStrategy('momentum:0.5+bucket:2+cclip:1').name).toBe('momentum:0.5:1+bucket:2+cclip:1:5');
  });

  it('build the classes code can use without a spec', () => {
    expect(parseStrategy('fedprox:0.1')).toBeInstanceOf(FedProx);
    expect(parseStrategy('fedavgm:0.5')).toBeInstanceOf(FedAvgM);
    expect((parseStrategy('fedadam:1e-2:1e-4') as FedAdam).options).toEqual({ eta: 0.01, tau: 1e-4, beta1: 0.9, beta2: 0.99 });
    expect((parseStrategy('trimmed-mean:0.1') as TrimmedMean).beta).toBe(0.1);
    expect((parseStrategy('krum:3') as Krum).f).toBe(3);
    const mk = parseStrategy('multikrum:2:5') as MultiKrum;
    expect([mk.f, mk.m, mk.minUpdates]).toEqual([2, 5, 7]);
    const nb = parseStrategy('normbound:2.5+trimmed-mean:0.1') as NormBound;
    expect([nb.bound, nb.inner.name]).toEqual([2.5, 'trimmed-mean:0.1']);
    expect(new NormBound(1, new Krum(2)).minUpdates).toBe(7);
    expect(new NormBound(1, new FedProx(0.5)).proximalMu).toBe(0.5);
  });

  it('reject bad specs with OptionsError naming the strategy option', () => {
    const bad = [
      '', 'fedsgd', 'FedAvg', 'fedavg:1', 'median:3', 'krum:-1', 'krum:1.5', 'krum:x', 'krum:', 'multikrum:1:0', 'multikrum:1:2:3',
      'trimmed-mean:0.6', 'trimmed-mean:0.5', 'trimmed-mean:-0.1', 'normbound', 'normbound:0', 'normbound:-1', 'normbound:1:2',
      'normbound:inf', 'normbound:5+', 'normbound:5+nope', 'fedavg+normbound:5', 'median+fedavg', 'fedavgm:1', 'fedavgm:0.9:0',
      'fedadam:0', 'fedadam:0.1:0', 'fedadam:0.1:0.1:1', 'fedyogi:0.1:0.1:0.9:1.5', 'fedadagrad:0.1:0.1:0.9:0.99', 'fedprox:-1', 'fedprox:1:2',
      'cclip', 'cclip:0', 'cclip:1:0', 'cclip:1:1.5', 'cclip:1:2:3', 'momentum', 'momentum:0.9', 'momentum:1+median', 'momentum:0.9:0+median',
      'momentum:0.9:1:2+median', 'momentum+nope', 'median+momentum',
    ];
    for (const spec of bad) {
      let error: unknown;
      try {
        parseStrategy(spec);
      } catch (e) {
        error = e;
      }
      expect(error, spec).toBeInstanceOf(OptionsError);
      expect((error as OptionsError).option, spec).toBe('strategy');
    }
  });

  it('are listed for help text', () => {
    expect(STRATEGY_SPECS).toContain('trimmed-mean[:BETA]');
    expect(STRATEGY_SPECS).toContain('bucket:S+SPEC');
    expect(STRATEGY_SPECS.length).toBe(14);
  });
});
