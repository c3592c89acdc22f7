import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { FileResidualStore, LocalTrainer, type EvalJob, type Trainer, type TrainJob, type TrainOutcome } from '../device-agent/index.js';
import type { TaskEvalResult } from '../learning/index.js';
import { ManualClock, decodeMessage, type StatusMessage } from '../protocol/index.js';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { mnistSlice, topics } from './helpers.js';
import { MLP_PARAMS, RawAggregator, mlpTask, roundFor, sleep, startAgent, waitFor } from './agent-support.js';

const DEVICE = 'dev-a';
const T0 = 1_700_000_000_000;

/** Trains for real, then holds the outcome until the test releases it. */
class HeldTrainer implements Trainer {
  private readonly inner = new LocalTrainer();
  release!: () => void;
  private readonly held = new Promise<void>((resolve) => (this.release = resolve));

  async train(job: TrainJob): Promise<TrainOutcome> {
    const outcome = await this.inner.train(job);
    await this.held;
    return outcome;
  }

  evaluate(job: EvalJob): Promise<TaskEvalResult> {
    return this.inner.evaluate(job);
  }

  dispose(): void {
    this.inner.dispose();
  }
}

describe('an agent whose state directory or broker fails', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function broker(port = 0): Promise<BrokerHandle> {
    const b = await startBroker({ host: '127.0.0.1', port });
    cleanup.push(() => b.close());
    return b;
  }

  it('keeps training and sends every update when its state directory cannot be written, warning once', async () => {
    // Prepare: the state directory would be under a regular file (ENOTDIR, as root would not be stopped by a read-only mode).
    const dir = await mkdtemp(path.join(tmpdir(), 'fedmq-agent-state-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'file'), 'not a directory');
    const storageWarnings: Error[] = [];
    const store = new FileResidualStore(path.join(dir, 'file', 'state'), { onWarning: (e) => storageWarnings.push(e) });
    const b = await broker();
    const aggregator = await RawAggregator.connect(b.url);
    cleanup.push(() => aggregator.end());
    const { agent, client, events } = await startAgent(b.url, DEVICE, await mnistSlice(300, 'train'), { clock: new ManualClock(T0), residuals: store });
    cleanup.push(() => client.endAsync(true), () => agent.stop());
    const codec = 'topk:0.05+int8+ef';
    // Execute: three rounds with an error-feedback codec, which loads and saves the residual each round.
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 5_000, { codec }), mlpTask({ codec }));
    for (let round = 1; round <= 3; round++) {
      if (round > 1) await aggregator.publish('round', roundFor([DEVICE], round, T0 + 5_000, { codec }));
      await aggregator.updateFor(DEVICE, round, 10_000);
    }
    // Assert: every round sent, one warning, and the residual carried in memory.
    expect(aggregator.updates.map((u) => u.round)).toEqual([1, 2, 3]);
    expect(events.warning).toEqual([]);
    expect(storageWarnings).toHaveLength(1);
    expect(storageWarnings[0]!.message).toMatch(/cannot (read|write) .*ENOTDIR.*kept in memory/);
    expect((await store.load(DEVICE, MLP_PARAMS, codec)).residual.some((v) => v !== 0)).toBe(true);
  });

  it.each([
    ['its client (mqtt.js resubscribing)', true],
    ['it (a client told not to resubscribe)', false],
  ])('reconnects to a restarted broker, is subscribed again by %s, says it is online, and trains on what the aggregator republishes', async (_who, resubscribe) => {
    // Prepare: round 1 done on the first broker.
    const first = await broker();
    const port = first.port;
    const a1 = await RawAggregator.connect(first.url);
    const connect = (): Promise<MqttClient> => mqtt.connectAsync(first.url, { clientId: DEVICE, reconnectPeriod: 300, resubscribe });
    const { agent, client, events } = await startAgent(first.url, DEVICE, await mnistSlice(300, 'train'), { clock: new ManualClock(T0) }, connect);
    cleanup.push(() => client.endAsync(true), () => agent.stop());
    await a1.startRound(roundFor([DEVICE], 1, T0 + 60_000));
    await a1.updateFor(DEVICE, 1, 10_000);
    // Execute: the broker restarts without persistence (every retained message lost), the agent
    // gets there first, then an aggregator that republishes its task, global and next round.
    await a1.end();
    await first.close();
    const second = await broker(port);
    await waitFor('the agent to reconnect', () => client.connected, 10_000);
    const a2 = await RawAggregator.connect(second.url);
    cleanup.push(() => a2.end());
    const monitor = await mqtt.connectAsync(second.url, { clientId: 'monitor', reconnectPeriod: 0 });
    cleanup.push(() => monitor.endAsync(true));
    const statuses: StatusMessage[] = [];
    monitor.on('message', (_t, payload) => statuses.push(decodeMessage('status', payload)));
    await monitor.subscribeAsync(topics.status(DEVICE), { qos: 1 });
    await a2.startRound(roundFor([DEVICE], 2, T0 + 60_000));
    // Assert
    await a2.updateFor(DEVICE, 2, 10_000);
    expect(statuses[0]?.state).toBe('online');
    expect(events.trainingStarted.map((r) => r.round)).toEqual([1, 2]);
    expect(events.warning).toEqual([]);
  });

  it('sends its update for the open round again, once, when that round is announced again after the broker restarted', async () => {
    // Prepare: round 1 is open, the agent is training.
    const first = await broker();
    const port = first.port;
    const a1 = await RawAggregator.connect(first.url);
    const trainer = new HeldTrainer();
    const { agent, client, events } = await startAgent(first.url, DEVICE, await mnistSlice(300, 'train'), { clock: new ManualClock(T0), trainer });
    cleanup.push(async () => trainer.dispose(), () => client.endAsync(true), () => agent.stop());
    const round = roundFor([DEVICE], 1, T0 + 60_000);
    await a1.startRound(round);
    await waitFor('training of round 1', () => events.trainingStarted.length === 1, 5_000);
    // Execute: the broker restarts; the agent reaches it and sends its update before the aggregator is back.
    await a1.end();
    await first.close();
    const second = await broker(port);
    trainer.release();
    await waitFor('the update to reach the restarted broker', () => events.updatePublished.length === 1, 10_000);
    const a2 = await RawAggregator.connect(second.url);
    cleanup.push(() => a2.end());
    await a2.startRound(round);
    // Assert: the aggregator gets it after announcing the same round again; a third announcement gets nothing more.
    const update = await a2.updateFor(DEVICE, 1, 5_000);
    expect(update.round).toBe(1);
    await a2.publish('round', round);
    await sleep(500);
    expect(a2.updates).toHaveLength(1);
    expect(events.updateResent).toEqual([{ round: 1, bytes: expect.any(Number) }]);
    expect(events.warning).toEqual([]);
  });
});
