import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileModelStore, MODEL_FILE } from '../device-agent/index.js';
import { TaskModel } from '../learning/index.js';
import { parseTask, sha256Hex, taskLayout } from '../protocol/index.js';
import { CLI } from './processes.js';

const TASK = parseTask({
  name: 'kitchen', input: { shape: [2], features: ['temp', 'hum'] }, output: { kind: 'binary' },
  model: { layers: [{ kind: 'dense', units: 4, activation: 'relu' }, { kind: 'dense', units: 1, activation: 'sigmoid' }] },
  preprocessing: { standardize: { mean: [20, 0.5], std: [2, 0.1] } },
});

function fedmq(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-predict-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fedmq predict', () => {
  it('prints one JSON line per example with the model the agent kept, the runtime on stderr', async () => {
    // Prepare: a kept global of the kitchen task, and readings with the features in another order.
    const weights = new Float32Array(taskLayout(TASK).paramCount).map((_, i) => Math.cos(i * 0.7));
    await new FileModelStore(dir).save({ task: TASK, version: 7, round: 6, sha256: sha256Hex(weights), weights });
    const csv = path.join(dir, 'readings.csv');
    await writeFile(csv, 'hum,temp,time\n0.5,20,1\n0.7,25,2\n0.2,15,3\n');
    // Execute
    const fromCsv = await fedmq(['predict', '--input', csv, '--state-dir', dir]);
    const fromStdin = await fedmq(['predict', '--input', '-', '--state-dir', dir], '[[20, 0.5], [25, 0.7], [15, 0.2]]');
    const onTfjs = await fedmq(['predict', '--input', csv, '--state-dir', dir, '--runtime', 'tfjs']);
    const onWasm = await fedmq(['predict', '--input', csv, '--state-dir', dir, '--runtime', 'onnxruntime-web']);
    // Assert
    expect(fromCsv.code).toBe(0);
    expect(fromCsv.stderr).toMatch(/global v7 \(round 6\) of task "kitchen", 3 examples, runtime (onnxruntime-node|onnxruntime-web|tfjs)/);
    expect(onTfjs.stderr).toMatch(/runtime tfjs\n$/);
    expect(onWasm.stderr).toMatch(/runtime onnxruntime-web\n$/);
    const lines = fromCsv.stdout.trim().split('\n').map((l) => JSON.parse(l) as { output: number[]; label: number });
    const model = await TaskModel.create(TASK, weights);
    const expected = model.predict(Float32Array.of(20, 0.5, 25, 0.7, 15, 0.2), 3);
    model.dispose();
    expect(lines).toHaveLength(3);
    lines.forEach((l, i) => {
      expect(Object.keys(l)).toEqual(['output', 'label']);
      expect(l.output[0]).toBeCloseTo(expected[i]!, 5);
      expect(l.label).toBe(expected[i]! >= 0.5 ? 1 : 0);
    });
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toBe(fromCsv.stdout);
    for (const other of [onTfjs, onWasm]) {
      const outputs = other.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { output: number[] }).output[0]!);
      outputs.forEach((v, i) => expect(v).toBeCloseTo(lines[i]!.output[0]!, 5));
    }
  });

  it('says so when there is no model, when the kept one is corrupt, and where the input does not fit', async () => {
    const empty = await fedmq(['predict', '--input', '-', '--state-dir', dir], '[]');
    const weights = new Float32Array(taskLayout(TASK).paramCount);
    await new FileModelStore(dir).save({ task: TASK, version: 1, round: 1, sha256: sha256Hex(weights), weights });
    const badCsv = path.join(dir, 'bad.csv');
    await writeFile(badCsv, 'temp,hum\n20,0.5\n21,n/a\n');
    const badRow = await fedmq(['predict', '--input', badCsv, '--state-dir', dir]);
    const badRuntime = await fedmq(['predict', '--input', badCsv, '--state-dir', dir, '--runtime', 'gpu']);
    await writeFile(path.join(dir, MODEL_FILE), 'garbage');
    const corrupt = await fedmq(['predict', '--input', badCsv, '--state-dir', dir]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain(`no model in ${path.join(dir, MODEL_FILE)} yet`);
    expect(badRow.code).toBe(1);
    expect(badRow.stderr).toContain(`fedmq predict: ${badCsv}: line 3, column "hum": "n/a" is not a finite number`);
    expect(badRuntime.code).toBe(2);
    expect(badRuntime.stderr).toMatch(/--runtime: must be auto, onnxruntime-node, onnxruntime-web, tfjs; got "gpu"/);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/model\.safetensors: not a fedmq model file/);
  });

  it('fedmq agent --serve refuses a non-loopback address without --serve-public, before it reaches the broker', async () => {
    const refused = await fedmq(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-01', '--data', 'mnist:iid:0/3', '--serve', '0.0.0.0:8080']);
    const alone = await fedmq(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-01', '--data', 'mnist:iid:0/3', '--serve-public']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.split('\n')[0]).toBe('fedmq agent: --serve: 0.0.0.0 is not a loopback address: anyone who reaches it could use the model; give --serve-public to serve on it anyway');
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--serve-public and --runtime go with --serve/);
  });
});
