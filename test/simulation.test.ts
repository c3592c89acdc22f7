import { describe, expect, it } from 'vitest';
import { Simulation } from '../simulator/index.js';
import { int8Codec, builtinTask, taskLayout } from '../protocol/index.js';

describe('a simulated fleet', () => {
  it('writes a run report whose bytesUp is what the devices really published', async () => {
    // Prepare: 5 devices on a non-IID split, 2 rounds.
    const simulation = new Simulation({ devices: 5, rounds: 2, partition: 'shards:2', seed: 4, backend: 'wasm', codec: 'int8' });
    const published: number[] = [];
    simulation.on('updateAccepted', (u) => published.push(u.bytes));
    // Execute
    const report = await simulation.run();
    // Assert: shape of DESIGN.md's run report.
    expect(report.config.devices).toBe(5);
    expect(report.config.partition).toBe('shards:2');
    expect(report.environment.backend).toBe('wasm');
    expect(report.rounds).toHaveLength(2);
    for (const r of report.rounds) {
      expect(r.participants).toBe(5);
      expect(r.accepted).toBe(5);
      expect(r.rejected).toBe(0);
      expect(r.accuracy).toBeGreaterThan(0.1);
      expect(r.wallMs).toBeGreaterThan(0);
    }
    expect(report.final.rounds).toBe(2);
    expect(report.final.accuracy).toBe(report.rounds[1]!.accuracy);
    // bytesUp: the sum of the update payloads on the wire, each an int8 delta plus a small CBOR envelope.
    expect(report.final.bytesUpTotal).toBe(published.reduce((a, b) => a + b, 0));
    const int8Bytes = int8Codec().encode(new Float32Array(taskLayout(builtinTask('mlp')).paramCount), { next: () => 0 } as never).byteLength;
    for (const b of published) {
      expect(b).toBeGreaterThan(int8Bytes);
      expect(b).toBeLessThan(int8Bytes + 300);
    }
  }, 180_000);

  it('gives the same per-round accuracies for the same seed', async () => {
    const options = { devices: 4, rounds: 2, partition: 'dirichlet:0.5', seed: 11, backend: 'wasm' as const };
    const first = await new Simulation(options).run();
    const second = await new Simulation(options).run();
    // Identical, not close: the same seed gives the same run bit for bit.
    expect(second.rounds.map((r) => [r.accuracy, r.loss])).toEqual(first.rounds.map((r) => [r.accuracy, r.loss]));
  }, 240_000);

  it('runs a sparse error-feedback codec end to end with updates over 100x smaller than f32', async () => {
    const published: number[] = [];
    const simulation = new Simulation({ devices: 3, rounds: 2, codec: 'topk:0.01+int8+ef', seed: 2, backend: 'wasm' });
    simulation.on('updateAccepted', (u) => published.push(u.bytes));
    const report = await simulation.run();
    expect(report.rounds.map((r) => r.accepted)).toEqual([3, 3]);
    const f32Bytes = taskLayout(builtinTask('mlp')).paramCount * 4;
    for (const b of published) expect(f32Bytes / b).toBeGreaterThan(100);
    expect(report.final.accuracy).toBeGreaterThan(0.3);
  }, 120_000);

  it('runs async mode reproducibly: the same seed gives the same globals at the same simulated times', async () => {
    const options = {
      devices: 8, fraction: 0.5, mode: 'async' as const, buffer: 2, rounds: 4, profiles: 'pi-zero-2:0.5,pi-5:0.5',
      msPerExample: 0.05, seed: 5, backend: 'wasm' as const, codec: 'int8',
    };
    const first = await new Simulation(options).run();
    const second = await new Simulation(options).run();
    const trace = (r: typeof first): unknown[] => r.rounds.map((x) => [x.accuracy, x.simMs, x.staleness]);
    expect(trace(first)).toEqual(trace(second));
    expect(first.rounds.map((r) => r.accepted)).toEqual([2, 2, 2, 2]);
    // Four devices train at once, two make a global: some update is always a version behind.
    expect(Math.max(...first.rounds.map((r) => r.staleness!.max))).toBeGreaterThan(0);
    expect(first.final.simWallMs).toBeGreaterThan(0);
    expect(first.final.accuracy).toBeGreaterThan(0.5);
  }, 240_000);

  it('refuses bad options with the option named', () => {
    expect(() => new Simulation({ devices: 0 })).toThrow(/devices/);
    expect(() => new Simulation({ partition: 'shards:x' })).toThrow(/partition/);
    expect(() => new Simulation({ codec: 'int3' })).toThrow(/codec/);
    expect(() => new Simulation({ fraction: 1.5 })).toThrow(/fraction/);
    expect(() => new Simulation({ model: 'resnet' as never })).toThrow(/model/);
    expect(() => new Simulation({ mode: 'eventual' as never })).toThrow(/mode/);
    expect(() => new Simulation({ mode: 'async', buffer: 0 })).toThrow(/buffer/);
    expect(() => new Simulation({ msPerExample: -1 })).toThrow(/msPerExample/);
  });
});
