import { afterEach, describe, expect, it } from 'vitest';
import { LocalTrainer, type Trainer, type TrainJob, type TrainOutcome } from '../device-agent/index.js';
import { f32Codec } from '../protocol/index.js';
import { clipToNorm, l2Norm, seededGaussian } from '../privacy/index.js';
import { mnistSlice, testBroker } from './helpers.js';
import { MLP_PARAMS, RawAggregator, mlpTask, roundFor, startAgent } from './agent-support.js';
import type { BrokerHandle } from '../broker/index.js';

/**
 * Local DP on a real agent: the task message carries `dp`; the agent trains for real, clips
 * its raw update and adds seeded Gaussian noise (test mode only: a deployment draws from the OS
 * CSPRNG) before it encodes. What reaches the broker is the clipped update plus noise of std
 * z C, exactly the draws of the same seeded source.
 */
describe('local DP on the device', () => {
  let broker: BrokerHandle | null = null;
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await broker?.close();
    broker = null;
  });

  it('publishes the clipped update plus noise of std z*C, not the update it trained', async () => {
    broker = await testBroker();
    const aggregator = await RawAggregator.connect(broker.url);
    closers.push(() => aggregator.end());
    // A real trainer, watched: what it returns is the update the device would send without DP.
    const real = new LocalTrainer();
    const trained: { job: TrainJob; outcome: TrainOutcome }[] = [];
    const watched: Trainer = {
      train: async (job) => {
        const outcome = await real.train(job);
        trained.push({ job, outcome });
        return outcome;
      },
      evaluate: (job) => real.evaluate(job),
      dispose: () => real.dispose(),
    };
    const z = 0.8;
    const clip = 0.05;
    const { agent } = await startAgent(broker.url, 'pi-dp', await mnistSlice(200, 'train'), { trainer: watched, dpNoise: seededGaussian('local-dp-test') });
    closers.push(() => agent.stop());

    await aggregator.startRound(roundFor(['pi-dp'], 1, Date.now() + 60_000), mlpTask({ dp: { noiseMultiplier: z, clip } }));
    const update = await aggregator.updateFor('pi-dp', 1, 60_000);

    // The update it trained, as the agent computes it (float32 local - global).
    expect(trained).toHaveLength(1);
    const { job, outcome } = trained[0]!;
    const clean = new Float32Array(MLP_PARAMS);
    for (let i = 0; i < clean.length; i++) clean[i] = outcome.weights[i]! - job.global[i]!;
    const cleanNorm = l2Norm(clean);
    expect(cleanNorm).toBeGreaterThan(clip); // so the clip bites
    const sent = f32Codec.decode(update.delta, MLP_PARAMS);
    // Exactly: clip to C, then the seeded source's draws times z C (float32, as the agent adds them).
    const expected = Float32Array.from(clean);
    clipToNorm(expected, clip);
    seededGaussian('local-dp-test').addNoise(expected, z * clip);
    expect(Buffer.from(sent.buffer, sent.byteOffset, sent.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);

    // Statistically: the noise (sent - clipped) has mean 0 and std z C over the model's parameters.
    const clipped = Float32Array.from(clean);
    clipToNorm(clipped, clip);
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < sent.length; i++) {
      const e = sent[i]! - clipped[i]!;
      sum += e;
      squares += e * e;
    }
    const n = sent.length;
    const mean = sum / n;
    const std = Math.sqrt(squares / n - mean * mean);
    const sigma = z * clip;
    // 101,770 draws: the mean is within 5 standard errors of 0, the std within 2% of z C (its standard error is ~0.22%).
    expect(Math.abs(mean)).toBeLessThan((5 * sigma) / Math.sqrt(n));
    expect(Math.abs(std / sigma - 1)).toBeLessThan(0.02);
    // The update the device trained is not what left it: noise dominates a clipped update of norm C.
    expect(l2Norm(sent)).toBeGreaterThan(10 * clip);
  }, 120_000);
});
