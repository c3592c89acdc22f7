import { describe, expect, it } from 'vitest';
import { OptionsError } from '../../protocol/index.js';
import { countStdFor, parseDp, type DpSpec } from './dpSpec.js';

describe('--dp spec parsing', () => {
  const good: [string, Partial<DpSpec>, string][] = [
    ['noise:1.1,clip:0.5,delta:1e-5', { noiseMultiplier: 1.1, clip: { kind: 'fixed', norm: 0.5 }, delta: 1e-5, budget: null, local: false, sampling: 'poisson' }, 'noise:1.1,clip:0.5,delta:0.00001'],
    ['noise:1,clip:2,delta:1e-6,budget:8', { budget: 8 }, 'noise:1,clip:2,delta:0.000001,budget:8'],
    ['delta:0.001,clip:1,noise:0.8', { delta: 0.001, noiseMultiplier: 0.8 }, 'noise:0.8,clip:1,delta:0.001'],
    ['noise:5,clip:0.1,delta:1e-5,local', { local: true, noiseMultiplier: 5 }, 'noise:5,clip:0.1,delta:0.00001,local'],
    ['noise:5,clip:0.1,delta:1e-5,budget:3,local', { local: true, budget: 3 }, 'noise:5,clip:0.1,delta:0.00001,budget:3,local'],
    [
      'noise:1,clip:adaptive,delta:1e-5',
      { clip: { kind: 'adaptive', targetQuantile: 0.5, learningRate: 0.2, countStd: null, initialClip: 0.1 } },
      'noise:1,clip:adaptive,delta:0.00001,quantile:0.5,cliplr:0.2,initclip:0.1',
    ],
    [
      'noise:1,clip:adaptive,delta:1e-5,quantile:0.7,cliplr:0.1,countstd:2,initclip:1,budget:4',
      { clip: { kind: 'adaptive', targetQuantile: 0.7, learningRate: 0.1, countStd: 2, initialClip: 1 }, budget: 4 },
      'noise:1,clip:adaptive,delta:0.00001,budget:4,quantile:0.7,cliplr:0.1,countstd:2,initclip:1',
    ],
    ['noise:1,clip:1,delta:1e-5,sampling:fixed-size', { sampling: 'fixed-size' }, 'noise:1,clip:1,delta:0.00001,sampling:fixed-size'],
    ['noise:1,clip:1,delta:1e-5,sampling:poisson', { sampling: 'poisson' }, 'noise:1,clip:1,delta:0.00001'],
    [' noise: 1 , clip: .5 , delta: 1E-5 ', { noiseMultiplier: 1, clip: { kind: 'fixed', norm: 0.5 } }, 'noise:1,clip:0.5,delta:0.00001'],
  ];

  it.each(good)('reads %s', (text, expected, canonical) => {
    const spec = parseDp(text);
    expect(spec).toMatchObject(expected);
    expect(spec.spec).toBe(canonical);
    // The canonical form reads back to the same object.
    expect(parseDp(spec.spec)).toEqual(spec);
  });

  const bad: [string, RegExp][] = [
    ['', /expected noise:Z/],
    ['noise:1,clip:1', /"delta" is required/],
    ['clip:1,delta:1e-5', /"noise" is required/],
    ['noise:1,delta:1e-5', /"clip" is required/],
    ['noise:0,clip:1,delta:1e-5', /noise must be > 0.*normbound/],
    ['noise:-1,clip:1,delta:1e-5', /noise must be a number/],
    ['noise:abc,clip:1,delta:1e-5', /noise must be a number, got "abc"/],
    ['noise:1e9,clip:1,delta:1e-5', /at most 1000/],
    ['noise:1,clip:0,delta:1e-5', /clip must be > 0 or "adaptive"/],
    ['noise:1,clip:median,delta:1e-5', /clip must be a number, got "median"/],
    ['noise:1,clip:1,delta:0', /delta must be in \(0, 1\)/],
    ['noise:1,clip:1,delta:1', /delta must be in \(0, 1\)/],
    ['noise:1,clip:1,delta:1e-5,budget:0', /budget must be > 0/],
    ['noise:1,clip:1,delta:1e-5,budget', /"budget" needs a value/],
    ['noise:1,clip:1,delta:1e-5,local:yes', /"local" takes no value/],
    ['noise:1,clip:1,delta:1e-5,noise:2', /"noise" is given twice/],
    ['noise:1,clip:1,delta:1e-5,epsilon:3', /unknown setting "epsilon"/],
    ['noise:1,clip:1,delta:1e-5,quantile:0.5', /"quantile" applies only to clip:adaptive/],
    ['noise:1,clip:adaptive,delta:1e-5,local', /cannot be combined with local/],
    ['noise:1,clip:adaptive,delta:1e-5,quantile:1', /quantile must be in \(0, 1\)/],
    ['noise:1,clip:adaptive,delta:1e-5,cliplr:0', /cliplr must be > 0/],
    ['noise:1,clip:adaptive,delta:1e-5,countstd:0', /countstd must be > 0/],
    ['noise:4,clip:adaptive,delta:1e-5,countstd:2', /countstd must exceed noise \/ 2 = 2/],
    ['noise:1,clip:adaptive,delta:1e-5,initclip:0', /initclip must be > 0/],
    ['noise:1,,clip:1,delta:1e-5', /unknown setting ""/],
    ['noise:1,clip:1,delta:1e-5,sampling:shuffle', /sampling must be poisson or fixed-size, got "shuffle"/],
    ['noise:1,clip:1,delta:1e-5,local,sampling:poisson', /sampling does not apply to local DP/],
  ];

  it.each(bad)('refuses %j with a one-line reason', (text, reason) => {
    let error: unknown;
    try {
      parseDp(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OptionsError);
    const message = (error as OptionsError).message;
    expect(message).toMatch(reason);
    expect(message.startsWith('dp: ')).toBe(true);
    expect(message).not.toContain('\n');
  });

  it("defaults the adaptive count's noise to expected participants / 20", () => {
    const spec = parseDp('noise:1,clip:adaptive,delta:1e-5');
    if (spec.clip.kind !== 'adaptive') throw new Error('expected adaptive');
    expect(countStdFor(spec.clip, 100)).toBe(5);
    expect(countStdFor({ ...spec.clip, countStd: 3 }, 100)).toBe(3);
  });
});
