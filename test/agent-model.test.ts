import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileModelStore, MemoryModelStore, loadSavedModel, type ModelStore, type SavedModel } from '../device-agent/index.js';
import { Rng, build, builtinTask, encodeGlobal, parseCodec, parseTask, sha256Hex } from '../protocol/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { brokerFixture, mnistSlice } from './helpers.js';
import { MLP_PARAMS, RawAggregator, mlpGlobal, mlpTask, roundFor, sleep, startAgent, waitFor } from './agent-support.js';

const DEVICE = 'dev-m';

/** A store that counts its writes and can be told to fail. */
class CountingStore implements ModelStore {
  readonly saved: SavedModel[] = [];
  failNext = false;
  private readonly inner = new MemoryModelStore();
  async save(model: SavedModel): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.saved.push(model);
    await this.inner.save(model);
  }
  load(): Promise<SavedModel | null> {
    return this.inner.load();
  }
}

function globalOf(version: number, weights: Float32Array): ReturnType<typeof mlpGlobal> {
  const encoded = encodeGlobal(weights, parseCodec('f32'), new Rng(0));
  return build.global({ version, round: version, codec: 'f32', weights: encoded.bytes, sha256: encoded.sha256 });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedmq-agent-model-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the device keeps the model', () => {
  const fixture = brokerFixture();

  it('writes every newly verified global with its task to the state directory, once per version, while it trains', async () => {
    // Prepare
    const broker = await fixture.start();
    const aggregator = await RawAggregator.connect(broker.url);
    fixture.cleanup(() => aggregator.end());
    const store = new FileModelStore(dir);
    const { agent, client, events } = await startAgent(broker.url, DEVICE, await mnistSlice(200, 'train'), { models: store });
    fixture.cleanup(() => client.endAsync(), () => agent.stop());
    const saved: number[] = [];
    agent.on('modelSaved', (m) => saved.push(m.version));
    // Execute: round 1 from global v0, then global v1 arrives (twice: a retained copy delivered again).
    await aggregator.startRound(roundFor([DEVICE], 1, Date.now() + 30_000));
    await aggregator.updateFor(DEVICE, 1, 20_000);
    await waitFor('global v0 saved', () => saved.includes(0), 5_000);
    const v1 = taskInitialWeights(builtinTask('mlp'), 1);
    await aggregator.publish('global', globalOf(1, v1));
    await waitFor('global v1 saved', () => saved.includes(1), 5_000);
    await aggregator.publish('global', globalOf(1, v1));
    await aggregator.publish('task', mlpTask());
    await sleep(300);
    // Assert
    expect(saved).toEqual([0, 1]);
    const back = await loadSavedModel(dir);
    expect(back).not.toBeNull();
    expect(back!.version).toBe(1);
    expect(back!.round).toBe(1);
    expect(back!.sha256).toBe(sha256Hex(v1));
    expect(back!.weights).toEqual(v1);
    expect(back!.task).toEqual(builtinTask('mlp'));
    expect(events.warning).toEqual([]);
  });

  it('keeps nothing while the task waits for the fleet statistics; a failed write is a warning and the next global is written', async () => {
    // Prepare
    const broker = await fixture.start();
    const aggregator = await RawAggregator.connect(broker.url);
    fixture.cleanup(() => aggregator.end());
    const store = new CountingStore();
    const { agent, client, events } = await startAgent(broker.url, DEVICE, await mnistSlice(50, 'train'), { models: store });
    fixture.cleanup(() => client.endAsync(), () => agent.stop());
    const mlp = builtinTask('mlp');
    const waiting = parseTask({ ...mlp, preprocessing: { standardize: 'fleet' } });
    const ready = parseTask({ ...mlp, preprocessing: { standardize: { mean: [0.5], std: [0.25] } } });
    // Execute: the task without statistics, the global, then (failing disk) the task with them, then global v1.
    await aggregator.publish('task', mlpTask({ task: waiting }));
    await aggregator.publish('global', mlpGlobal());
    await sleep(300);
    const nothingYet = store.saved.length;
    store.failNext = true;
    await aggregator.publish('task', mlpTask({ task: ready }));
    await waitFor('the failed write', () => events.warning.length === 1, 5_000);
    await aggregator.publish('global', globalOf(1, taskInitialWeights(mlp, 1)));
    await waitFor('global v1 saved', () => store.saved.length === 1, 5_000);
    // Assert
    expect(nothingYet).toBe(0);
    expect(events.warning[0]!.message).toBe('disk full');
    expect(store.saved[0]!.version).toBe(1);
    expect(store.saved[0]!.task).toEqual(ready);
    expect(store.saved[0]!.weights.length).toBe(MLP_PARAMS);
  });
});
