import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { Rng, build, decodeGlobal, decodeMessage, encodeMessage, int8Codec, parseCodec, builtinTask, taskLayout, type RoundMessage } from '../protocol/index.js';
import { Coordinator, DEFAULT_CODEC, DEFAULT_INFLUENCE_MULTIPLIER, l2Norm, type RoundReport } from '../aggregator/index.js';
import { loadCheckpoint } from '../aggregator/checkpoint.js';
import { taskInitialWeights } from '../learning/index.js';
import { aggregatorFixture, f32Delta, publishUpdate, rawDevice, topics } from './helpers.js';

const PARAMS = taskLayout(builtinTask('mlp')).paramCount;
/** The largest float32. */
const FLT_MAX = 3.4028234663852886e38;

/** An update message with the example count a device claims. */
function update(round: RoundMessage, deviceId: string, delta: Uint8Array, numExamples: number): Uint8Array {
  return encodeMessage(build.update({ round: round.round, deviceId, numExamples, codec: round.codec, delta, metrics: { loss: 1, accuracy: 0.5 }, trainMs: 10 }));
}

/** Says the device is online with `samples` examples, as an agent's status does (retained). */
async function declare(client: MqttClient, deviceId: string, samples: number): Promise<void> {
  const status = build.status({ deviceId, state: 'online', ts: Date.now(), capabilities: { cpus: 1, memoryMb: 512, backend: 'cpu', samples } });
  await client.publishAsync(topics.status(deviceId), Buffer.from(encodeMessage(status)), { qos: 1, retain: true });
}

/**
 * A valid int8 encoding whose every value decodes to 127 x the largest float32 scale: each
 * field within the wire format's bounds, the values far past float32 (4.3e40).
 */
function int8BeyondFloat32(): Uint8Array {
  const bytes = int8Codec().encode(new Float32Array(PARAMS).fill(1), new Rng(0));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Layout after the 8-byte header: chunk size (u32), then one f32 scale per chunk.
  const chunks = Math.ceil(PARAMS / view.getUint32(8, true));
  for (let c = 0; c < chunks; c++) view.setFloat32(12 + 4 * c, FLT_MAX, true);
  return bytes;
}

/** Every global the broker hands out on `global`, decoded (or the error a device would get). */
async function globalWatcher(url: string): Promise<{ client: MqttClient; versions: (number | string)[] }> {
  const client = await mqtt.connectAsync(url, { clientId: 'watcher', reconnectPeriod: 0 });
  const versions: (number | string)[] = [];
  client.on('message', (topic, payload) => {
    if (topic !== topics.global) return;
    const message = decodeMessage('global', payload);
    try {
      decodeGlobal(message, PARAMS);
      versions.push(message.version);
    } catch (e) {
      versions.push(`v${message.version}: ${(e as Error).message}`);
    }
  });
  await client.subscribeAsync(topics.global, { qos: 1 });
  return { client, versions };
}

describe('an aggregator given an update of huge values', () => {
  const fixture = aggregatorFixture();

  it('throws away a step that is not finite: keeps the global, the server momentum and a checkpoint that resumes', async () => {
    // Prepare: fedavgm without the influence bound, so the overflow reaches the strategy; one device.
    const { broker, control, evaluator } = await fixture.start();
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'fedmq-nonfinite-')), 'global.ckpt');
    const coordinator = new Coordinator(
      { fleet: 'test', rounds: 3, minDevices: 1, codec: 'int8', downlink: 'f32', strategy: 'fedavgm', influence: 'off', checkpoint: file },
      { client: control, evaluate: evaluator },
    );
    const refused: unknown[] = [];
    coordinator.on('aggregateRefused', (r) => refused.push(r));
    const device = await rawDevice(broker.url, 'a');
    const watcher = await globalWatcher(broker.url);
    fixture.cleanup(() => device.client.endAsync(), () => watcher.client.endAsync());
    const small = (value: number): Uint8Array => int8Codec().encode(new Float32Array(PARAMS).fill(value), new Rng(1));

    // Execute: round 1 honest, round 2 the huge encoding with a billion examples, round 3 honest.
    const running = coordinator.run();
    const round1 = await device.nextRound();
    await publishUpdate(device.client, 'a', update(round1, 'a', small(0.01), 100));
    const round2 = await device.nextRound();
    await publishUpdate(device.client, 'a', update(round2, 'a', int8BeyondFloat32(), 1e9));
    const round3 = await device.nextRound();
    const afterRound2 = Float32Array.from(coordinator.weights);
    await publishUpdate(device.client, 'a', update(round3, 'a', small(0.02), 100));
    const reports: RoundReport[] = await running;

    // Assert: round 2 made no global; devices only ever got finite ones (v0, v1, v3 numbered on).
    expect(reports.map((r) => r.aggregated)).toEqual([true, false, true]);
    expect(reports[1]!.kept).toMatchObject({ reason: 'non-finite' });
    expect(refused).toEqual([expect.objectContaining({ round: 2, reason: 'non-finite' })]);
    await expect.poll(() => watcher.versions).toEqual([0, 1, 2]);
    expect(afterRound2.every(Number.isFinite)).toBe(true);
    // The momentum was put back as it was after round 1 (v = 0.01): round 3 steps by 0.9 x 0.01 + 0.02.
    const start = taskInitialWeights(builtinTask('mlp'), 0);
    for (let i = 0; i < PARAMS; i += 997) expect(coordinator.weights[i]! - start[i]!).toBeCloseTo(0.01 + 0.029, 3);
    const saved = await loadCheckpoint(file, 'mlp', PARAMS);
    expect(saved?.round).toBe(3);
    expect(saved?.strategy?.state.velocity?.every(Number.isFinite)).toBe(true);
  });

  it('counts an update for no more examples than its device declared on joining (the fleet median if it declared none)', async () => {
    // Prepare: plain FedAvg without the influence bound, f32; a and z declare 100 examples, u declares nothing.
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new Coordinator(
      { fleet: 'test', rounds: 1, minDevices: 3, codec: 'f32', downlink: 'f32', influence: 'off' },
      { client: control, evaluate: evaluator },
    );
    const [a, z, u] = await Promise.all(['a', 'z', 'u'].map((id) => rawDevice(broker.url, id)));
    fixture.cleanup(() => a!.client.endAsync(), () => z!.client.endAsync(), () => u!.client.endAsync());

    // Execute: the declarations reach the running aggregator (z's second, larger one after its first);
    // a sends no change for its 100 examples; z and u each claim a billion for +0.01.
    const running = coordinator.run();
    const round = await a!.nextRound();
    expect(round.participants).toEqual(['a', 'u', 'z']);
    await declare(a!.client, 'a', 100);
    await declare(z!.client, 'z', 100);
    await declare(z!.client, 'z', 1_000_000);
    await expect.poll(() => [coordinator.registry.get('a')?.capabilities?.samples, coordinator.registry.get('z')?.capabilities?.samples]).toEqual([100, 1_000_000]);
    await publishUpdate(a!.client, 'a', update(round, 'a', f32Delta(0), 100));
    await publishUpdate(z!.client, 'z', update(round, 'z', f32Delta(0.01), 1e9));
    await publishUpdate(u!.client, 'u', update(round, 'u', f32Delta(0.01), 1e9));
    const [report] = await running;

    // Assert: each counted as 100 examples: (0 x 100 + 0.01 x 100 + 0.01 x 100) / 300.
    expect(report!.accepted).toBe(3);
    const start = taskInitialWeights(builtinTask('mlp'), 0);
    for (let i = 0; i < PARAMS; i += 997) expect(coordinator.weights[i]! - start[i]!).toBeCloseTo(0.02 / 3, 5);
  });

  describe.each(['fedavg', 'fedavgm', 'trimmed-mean:0.2'])('under %s with the default influence bound', (strategy) => {
    it('keeps every global finite and moves it no further than a few honest updates would', async () => {
      // Prepare: the default codec; two honest devices that declared 100 examples, one attacker that declared nothing.
      const { broker, control, evaluator } = await fixture.start();
      const rounds = 4;
      const coordinator = new Coordinator({ fleet: 'test', rounds, minDevices: 3, strategy }, { client: control, evaluate: evaluator });
      const devices = await Promise.all(['h1', 'h2', 'x'].map((id) => rawDevice(broker.url, id)));
      fixture.cleanup(...devices.map((d) => () => d.client.endAsync()));
      const [h1, h2, x] = devices as [typeof devices[0], typeof devices[0], typeof devices[0]];
      await declare(h1.client, 'h1', 100);
      await declare(h2.client, 'h2', 100);
      const codecs = new Map(['h1', 'h2'].map((id) => [id, parseCodec(DEFAULT_CODEC)]));
      const rng = new Rng(3);
      const huge = new Float32Array(PARAMS).fill(3.4e38);
      let longestHonest = 0;
      const globals: Float32Array[] = [];
      coordinator.on('roundClosed', () => globals.push(Float32Array.from(coordinator.weights)));

      // Execute: every round, the honest devices send small random steps and x the largest float32s for a billion examples.
      const running = coordinator.run();
      const before = Float32Array.from(coordinator.weights);
      for (let r = 0; r < rounds; r++) {
        const round = await h1.nextRound();
        await h2.nextRound();
        await x.nextRound();
        for (const [id, client] of [['h1', h1.client], ['h2', h2.client]] as const) {
          const bytes = codecs.get(id)!.encode(Float32Array.from({ length: PARAMS }, () => rng.normal() * 0.01), rng);
          longestHonest = Math.max(longestHonest, l2Norm(codecs.get(id)!.decode(bytes, PARAMS)));
          await publishUpdate(client, id, update(round, id, bytes, 100));
        }
        // A fresh codec each time: error feedback would carry the huge residual past float32.
        await publishUpdate(x.client, 'x', update(round, 'x', parseCodec(DEFAULT_CODEC).encode(huge, rng), 1e9));
      }
      const reports: RoundReport[] = await running;

      // Assert: every update was taken, every global finite, each step at most MULTIPLIER honest
      // norms (fedavgm: momentum adds up to 1/(1 - 0.9) of them); the attacker's was scaled down.
      expect(reports.map((r) => r.accepted)).toEqual(Array(rounds).fill(3));
      const reach = DEFAULT_INFLUENCE_MULTIPLIER * longestHonest * (strategy === 'fedavgm' ? 10 : 1);
      let previous: Float32Array = before;
      for (const global of globals) {
        expect(global.every(Number.isFinite)).toBe(true);
        expect(l2Norm(Float64Array.from(global, (w, i) => w - previous[i]!))).toBeLessThanOrEqual(reach * 1.0001);
        previous = global;
      }
      expect(reports.every((r) => r.aggregated && r.influence!.clipped >= 1)).toBe(true);
    });
  });
});
