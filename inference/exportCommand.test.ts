import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { saveCheckpoint } from '../aggregator/checkpoint.js';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { parseFlags, UsageError } from '../cli/args.js';
import { exportCommand } from '../cli/export.js';
import { FileModelStore } from '../device-agent/index.js';
import { TaskModel } from '../learning/index.js';
import { Rng, build, encodeGlobal, encodeMessage, fleetTopics, parseCodec, parseTask, sha256Hex, taskLayout, type Task } from '../protocol/index.js';

/** `fedmq export` in this process: flags parsed and checked as the CLI does, then the command run. */
async function runExport(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  try {
    return { code: await exportCommand.run(parseFlags(argv, exportCommand.flags)), lines };
  } finally {
    log.mockRestore();
  }
}

const TASK_JSON = {
  name: 'occupancy',
  input: { features: ['temperature', 'humidity', 'motion'], scale: 2 },
  output: { kind: 'binary' },
  model: { layers: [{ kind: 'dense', units: 8, activation: 'relu' }, { kind: 'dropout', rate: 0.2 }, { kind: 'dense', units: 1, activation: 'sigmoid' }] },
  preprocessing: { standardize: { mean: [21, 50, 0.2], std: [2, 10, 0.4] } },
};
const task: Task = parseTask(TASK_JSON);
const paramCount = taskLayout(task).paramCount;
const weights = Float32Array.from({ length: paramCount }, (_, i) => Math.sin(i * 12.9898) * 0.8);
const x = Float32Array.from({ length: 3 * 20 }, (_, i) => [42, 100, 0.4][i % 3]! * (0.8 + 0.4 * ((i * 7919) % 13) / 13));

/** The written file, run by onnxruntime-node, equals TaskModel.predict on 20 raw examples. */
async function expectSameModel(file: string): Promise<void> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(readFileSync(file));
  const got = (await session.run({ input: new ort.Tensor('float32', x, [20, 3]) })).output!.data as Float32Array;
  await session.release();
  const model = await TaskModel.create(task, weights);
  const expected = model.predict(x, 20);
  model.dispose();
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(expected[i]! - got[i]!));
  expect(diff).toBeLessThanOrEqual(1e-5);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-export-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fedmq export', () => {
  it('--checkpoint FILE --task TASK', async () => {
    const taskFile = path.join(dir, 'occupancy.json');
    writeFileSync(taskFile, JSON.stringify(TASK_JSON));
    const ckpt = path.join(dir, 'run.ckpt');
    await saveCheckpoint(ckpt, { model: task.name, round: 7, version: 7, announced: 7, weights });
    const out = path.join(dir, 'from-checkpoint.onnx');
    const { code, lines } = await runExport(['--onnx', out, '--checkpoint', ckpt, '--task', taskFile]);
    expect(code).toBe(0);
    const bytes = readFileSync(out).byteLength;
    expect(lines).toEqual([
      `task: occupancy from checkpoint ${ckpt} (round 7, global v7; task:${taskFile})`,
      `parameters: ${paramCount}`,
      `onnx: ${out}, ${bytes} bytes (${bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`}), IR 8, opset 17, input [N, 3] raw float32, output [N, 1]`,
    ]);
    await expectSameModel(out);
  });

  it('--state-dir DIR: the copy a device kept', async () => {
    const stateDir = path.join(dir, 'state');
    await new FileModelStore(stateDir).save({ task, version: 4, round: 4, sha256: sha256Hex(weights), weights });
    const out = path.join(dir, 'from-state.onnx');
    const { code, lines } = await runExport(['--onnx', out, '--state-dir', stateDir]);
    expect(code).toBe(0);
    expect(lines[0]).toBe(`task: occupancy from ${path.join(stateDir, 'model.safetensors')} (global v4, round 4)`);
    await expectSameModel(out);
    await expect(runExport(['--onnx', out, '--state-dir', path.join(dir, 'empty')])).rejects.toThrow(/^state-dir: no model in .*model\.safetensors/);
  });

  describe('--broker URL', () => {
    let broker: BrokerHandle;
    const fleet = fleetTopics('lab');
    beforeAll(async () => {
      broker = await startBroker({ host: '127.0.0.1', port: 0 });
      const publisher = await mqtt.connectAsync(broker.url, { clientId: 'test-aggregator' });
      const global = encodeGlobal(weights, parseCodec('f16'), new Rng(1));
      const taskMessage = build.task({ model: task.name, task, paramCount, codec: 'f32', downlink: 'f16', defaults: { epochs: 1, batchSize: 20, lr: 0.05 } });
      await publisher.publishAsync(fleet.task, Buffer.from(encodeMessage(taskMessage)), { retain: true, qos: 1 });
      await publisher.publishAsync(fleet.global, Buffer.from(encodeMessage(build.global({ version: 9, round: 9, codec: 'f16', weights: global.bytes, sha256: global.sha256 }))), { retain: true, qos: 1 });
      await publisher.endAsync();
    });
    afterAll(() => broker.close());

    it('reads the retained task and global, verifies the sha256 and writes the model', async () => {
      const out = path.join(dir, 'from-broker.onnx');
      const { code, lines } = await runExport(['--onnx', out, '--broker', broker.url, '--fleet', 'lab']);
      expect(code).toBe(0);
      expect(lines[0]).toBe(`task: occupancy from ${broker.url} fleet lab (global v9, round 9, sha256 verified)`);
      // The f16 downlink: the model holds the weights as the devices do, rounded to f16.
      const ort = await import('onnxruntime-node');
      const session = await ort.InferenceSession.create(readFileSync(out));
      const got = (await session.run({ input: new ort.Tensor('float32', x, [20, 3]) })).output!.data as Float32Array;
      await session.release();
      const held = encodeGlobal(weights, parseCodec('f16'), new Rng(1)).weights;
      const model = await TaskModel.create(task, held);
      const expected = model.predict(x, 20);
      model.dispose();
      for (let i = 0; i < expected.length; i++) expect(Math.abs(expected[i]! - got[i]!)).toBeLessThanOrEqual(1e-5);
    });

    it('says what is missing when a fleet has no retained global', async () => {
      await expect(runExport(['--onnx', path.join(dir, 'none.onnx'), '--broker', broker.url, '--fleet', 'empty', '--wait', '0.5'])).rejects.toThrow(
        /^broker: mqtt:\/\/127\.0\.0\.1:\d+: no retained task \(fedmq\/v1\/empty\/task\) and global \(fedmq\/v1\/empty\/global\) after 0\.5 s/,
      );
    });
  });

  afterEach(() => vi.restoreAllMocks());

  it.each([
    [[], /^--onnx FILE is required$/],
    [['--onnx', 'm.onnx'], /^give the global to export: --checkpoint FILE --task TASK, --broker URL or --state-dir DIR$/],
    [['--onnx', 'm.onnx', '--state-dir', 'a', '--broker', 'mqtt://h'], /^give one of --checkpoint, --broker and --state-dir, not --broker and --state-dir$/],
    [['--onnx', 'm.onnx', '--state-dir', 'a', '--task', 'mlp'], /^--task goes with --checkpoint/],
    [['--onnx', 'm.onnx', '--state-dir', 'a', '--fleet', 'lab'], /^--fleet goes with --broker$/],
    [['--onnx', 'm.onnx', '--checkpoint', 'x.ckpt'], /^--checkpoint needs --task TASK/],
    [['--onnx', 'm.onnx', '--broker', 'mqtt://h', '--wait', '0'], /^--wait expects seconds in \(0, 3600\]/],
    [['--onnx', '/no/such/folder/m.onnx', '--state-dir', 'a'], /^--onnx "\/no\/such\/folder\/m\.onnx": folder \/no\/such\/folder does not exist$/],
  ])('refuses %j at start', async (argv, message) => {
    const error = await runExport(argv as string[]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a task whose statistics are still "fleet" and a layer ONNX cannot compute, naming it', async () => {
    const ckpt = path.join(dir, 'fleet.ckpt');
    const fleetTask = path.join(dir, 'fleet.json');
    writeFileSync(fleetTask, JSON.stringify({ ...TASK_JSON, preprocessing: { standardize: 'fleet' } }));
    await saveCheckpoint(ckpt, { model: task.name, round: 1, version: 1, announced: 1, weights });
    await expect(runExport(['--onnx', path.join(dir, 'f.onnx'), '--checkpoint', ckpt, '--task', fleetTask])).rejects.toThrow(/^task: preprocessing\.standardize: "fleet"/);

    const gruTask = { name: 'seq', input: { shape: [4, 2] }, output: { kind: 'classes', classes: 3 }, model: { layers: [{ kind: 'gru', units: 3, activation: 'softmax' }] } };
    const gruFile = path.join(dir, 'seq.json');
    writeFileSync(gruFile, JSON.stringify(gruTask));
    const gruCkpt = path.join(dir, 'seq.ckpt');
    await saveCheckpoint(gruCkpt, { model: 'seq', round: 1, version: 1, announced: 1, weights: new Float32Array(taskLayout(parseTask(gruTask)).paramCount) });
    await expect(runExport(['--onnx', path.join(dir, 'g.onnx'), '--checkpoint', gruCkpt, '--task', gruFile])).rejects.toThrow(/^task: layer 0 \(gru\): a softmax activation inside the recurrence/);
  });
});
