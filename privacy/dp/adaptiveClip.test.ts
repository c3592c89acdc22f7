import { describe, expect, it } from 'vitest';
import { Rng } from '../../protocol/index.js';
import { AdaptiveClip, adjustedNoiseMultiplier, type AdaptiveClipOptions } from './adaptiveClip.js';
import { seededGaussian } from './gaussian.js';

/** Norms drawn log-normally, exp(mu + s N(0, 1)): quantile p is exp(mu + s Phi^-1(p)). */
const logNormal = (rng: Rng, mu: number, s: number): number => Math.exp(mu + s * rng.normal());

/** Runs `rounds` rounds of m updates with log-normal norms; returns the clip after each round. */
function run(options: Partial<AdaptiveClipOptions>, rounds: number, mu: number, s: number, seed: number): number[] {
  const m = options.expectedParticipants ?? 100;
  const clip = new AdaptiveClip(
    { initialClip: 0.1, targetQuantile: 0.5, learningRate: 0.2, countStd: m / 20, expectedParticipants: m, ...options },
    seededGaussian(`adaptive ${seed}`),
  );
  const rng = new Rng(seed);
  const history: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < m; k++) clip.observe(logNormal(rng, mu, s));
    history.push(clip.finishRound().nextClip);
  }
  return history;
}

/** The mean of the last `k` values (C hovers around its target once converged). */
const tailMean = (xs: number[], k: number): number => xs.slice(-k).reduce((a, b) => a + b, 0) / k;

describe('adaptive clipping (Andrew et al. 2021)', () => {
  it('moves the clip from 0.1 to the median norm, with the paper\'s defaults and sigma_b = m / 20', () => {
    // Prepare: median norm e^1.5 = 4.48, 100 updates a round; log(4.48 / 0.1) / (0.2 * 0.5) = 38 rounds at full speed.
    // Execute
    const history = run({}, 300, 1.5, 0.5, 1);
    // Assert: the last 100 rounds average within 5% of the median, and no round of them strays by more than 25%.
    const median = Math.exp(1.5);
    expect(Math.abs(tailMean(history, 100) / median - 1)).toBeLessThan(0.05);
    for (const c of history.slice(-100)) expect(Math.abs(c / median - 1)).toBeLessThan(0.25);
    // It was rising while below: the first rounds grow geometrically.
    expect(history[10]!).toBeGreaterThan(0.1 * Math.exp(0.2 * 0.5 * 10) * 0.9);
  });

  it('tracks other quantiles: the 90th percentile from above, the 20th from below', () => {
    // Phi^-1(0.9) = 1.2816, Phi^-1(0.2) = -0.8416.
    const p90 = Math.exp(0 + 0.8 * 1.2816);
    const high = run({ targetQuantile: 0.9, initialClip: 20 }, 400, 0, 0.8, 2);
    expect(Math.abs(tailMean(high, 100) / p90 - 1)).toBeLessThan(0.08);
    const p20 = Math.exp(0 - 0.8 * 0.8416);
    const low = run({ targetQuantile: 0.2 }, 400, 0, 0.8, 3);
    expect(Math.abs(tailMean(low, 100) / p20 - 1)).toBeLessThan(0.08);
  });

  it('counts an update at exactly C as unclipped, and centres the count (sensitivity 1/2)', () => {
    // With no count noise, 3 of 4 updates within C: fraction 0.75, C <- C exp(-0.2 (0.75 - 0.5)).
    const clip = new AdaptiveClip({ initialClip: 1, targetQuantile: 0.5, learningRate: 0.2, countStd: 0, expectedParticipants: 4 }, seededGaussian(0));
    expect(clip.observe(0.5)).toBe(true);
    expect(clip.observe(1)).toBe(true);
    expect(clip.observe(0.99)).toBe(true);
    expect(clip.observe(1.01)).toBe(false);
    const step = clip.finishRound();
    expect(step).toMatchObject({ clip: 1, count: 4, unclipped: 3, noisyFraction: 0.75 });
    expect(step.nextClip).toBeCloseTo(Math.exp(-0.05), 15);
    expect(clip.clip).toBe(step.nextClip);
    // The fraction is taken over the EXPECTED participants: 2 of 2 arrivals when 4 were expected is (2 - 1) / 4 + 1/2.
    clip.observe(0);
    clip.observe(0);
    expect(clip.finishRound().noisyFraction).toBeCloseTo(0.75, 15);
  });

  it('noises the count with std sigma_b / m on the fraction', () => {
    // Prepare: every update within C, m = 100, sigma_b = 5: the fraction is 1 + N(0, 0.05^2) before clamping to [0, 1].
    const clip = new AdaptiveClip({ initialClip: 1e9, targetQuantile: 0.5, learningRate: 1e-12, countStd: 5, expectedParticipants: 100 }, seededGaussian('count'));
    const fractions: number[] = [];
    for (let r = 0; r < 4000; r++) {
      for (let k = 0; k < 100; k++) clip.observe(1);
      fractions.push(clip.finishRound().noisyFraction);
    }
    // Assert: about half are clamped at 1; the rest spread like |N(0, 0.05)| below it.
    const below = fractions.filter((f) => f < 1);
    expect(below.length / fractions.length).toBeGreaterThan(0.45);
    expect(below.length / fractions.length).toBeLessThan(0.55);
    const meanGap = below.reduce((a, f) => a + (1 - f), 0) / below.length;
    expect(meanGap).toBeGreaterThan(0.05 * Math.sqrt(2 / Math.PI) * 0.9); // E|N(0, s)| = s sqrt(2 / pi)
    expect(meanGap).toBeLessThan(0.05 * Math.sqrt(2 / Math.PI) * 1.1);
  });

  it("adjusts the updates' noise multiplier so that both releases together are worth z", () => {
    // z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2: z = 1, sigma_b = 5 (m = 100) -> 1.0050; TFF's adaptive_clip_noise_params.
    expect(adjustedNoiseMultiplier(1, 5)).toBeCloseTo(1 / Math.sqrt(1 - 1 / 100), 12);
    // The two Gaussians compose back to z exactly.
    for (const [z, sb] of [[0.5, 1], [1.1, 5], [3, 2]] as const) {
      const zd = adjustedNoiseMultiplier(z, sb);
      expect(zd).toBeGreaterThan(z);
      expect((zd ** -2 + (2 * sb) ** -2) ** -0.5).toBeCloseTo(z, 12);
    }
    expect(() => adjustedNoiseMultiplier(2, 1)).toThrow(/above 1/);
    expect(() => adjustedNoiseMultiplier(1, 0)).toThrow(/> 0/);
  });

  it('rejects settings outside their ranges', () => {
    const base: AdaptiveClipOptions = { initialClip: 0.1, targetQuantile: 0.5, learningRate: 0.2, countStd: 1, expectedParticipants: 10 };
    const noise = seededGaussian(0);
    expect(() => new AdaptiveClip({ ...base, initialClip: 0 }, noise)).toThrow(/initial clip/);
    expect(() => new AdaptiveClip({ ...base, targetQuantile: 1 }, noise)).toThrow(/quantile/);
    expect(() => new AdaptiveClip({ ...base, learningRate: 0 }, noise)).toThrow(/learning rate/);
    expect(() => new AdaptiveClip({ ...base, countStd: -1 }, noise)).toThrow(/count std/);
    expect(() => new AdaptiveClip({ ...base, expectedParticipants: 0 }, noise)).toThrow(/participants/);
  });
});
