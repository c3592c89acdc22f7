import { readFileSync, readdirSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { TaskModel } from '../learning/index.js';
import { OptionsError } from '../protocol/errors.js';
import { Rng } from '../protocol/random.js';
import { builtinTask, parseTask, taskLayout, type Task } from '../protocol/task.js';
import { createPredictor, exportOnnx, ONNX_IR_VERSION, ONNX_METADATA, ONNX_OPSET, type RuntimeName } from './index.js';
import { runtimeImports } from './predictor.js';

const EXAMPLES = 100;
const TOLERANCE = 1e-5;

/** Seeded weights that are not the initial ones: kernels of variance 1 / fan-in, biases in [-0.5, 0.5). */
function randomWeights(task: Task, seed: number): Float32Array {
  const rng = Rng.derive(seed, 'inference.test.weights');
  const { params, paramCount } = taskLayout(task);
  const out = new Float32Array(paramCount);
  let offset = 0;
  for (const p of params) {
    const rows = p.role === 'bias' ? 1 : (p.shape.slice(0, -1).reduce((a, b) => a * b, 1) || 1);
    const a = p.role === 'bias' ? 0.5 : Math.sqrt(3 / rows);
    for (let i = 0; i < p.size; i++) out[offset + i] = (2 * rng.next() - 1) * a;
    offset += p.size;
  }
  return out;
}

/** Raw inputs: in [0, scale) when the task scales, around the task's mean when it standardises, else in [-1.5, 1.5). */
function randomInputs(task: Task, count: number, seed: number): Float32Array {
  const rng = Rng.derive(seed, 'inference.test.inputs');
  const n = task.input.shape.reduce((a, b) => a * b, 1);
  const s = task.preprocessing?.standardize;
  const stats = s !== undefined && s !== 'fleet' ? s : undefined;
  const scale = task.input.scale ?? 1;
  const x = new Float32Array(count * n);
  for (let i = 0; i < x.length; i++) {
    if (stats) {
      const f = i % stats.mean.length;
      x[i] = ((stats.mean[f] as number) + (2 * rng.next() - 1) * 2 * (stats.std[f] as number)) * scale;
    } else {
      x[i] = task.input.scale !== undefined ? rng.next() * scale : 3 * rng.next() - 1.5;
    }
  }
  return x;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(b.length).toBe(a.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

function spread(a: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi - lo;
}

const task = (json: unknown): Task => parseTask(json);

/** Models of the task format covering every layer kind and option the export handles. */
const CUSTOM: Record<string, Task> = {
  'dense+dropout binary, scale and standardize': task({
    name: 'occupancy',
    input: { features: ['temperature', 'humidity', 'motion', 'co2', 'lux'], scale: 10 },
    output: { kind: 'binary' },
    model: {
      layers: [
        { kind: 'dense', units: 16, activation: 'relu' },
        { kind: 'dropout', rate: 0.3 },
        { kind: 'dense', units: 8, activation: 'tanh', useBias: false },
        { kind: 'dropout', rate: 0.1 },
        { kind: 'dense', units: 1, activation: 'sigmoid' },
      ],
    },
    preprocessing: { standardize: { mean: [2.1, 5.0, 0.05, 45, 30], std: [0.3, 1.2, 0.04, 12, 25] } },
  }),
  'conv1d+maxPool (same and valid, strides)': task({
    input: { shape: [23, 3] },
    output: { kind: 'classes', classes: 4 },
    model: {
      layers: [
        { kind: 'conv1d', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' },
        { kind: 'maxPool', poolSize: [2], padding: 'valid' },
        { kind: 'conv1d', filters: 5, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh' },
        { kind: 'maxPool', poolSize: [3], strides: [2], padding: 'same' },
        { kind: 'conv1d', filters: 4, kernelSize: 2, strides: 1, padding: 'valid', activation: 'sigmoid', useBias: false },
        { kind: 'flatten' },
        { kind: 'dense', units: 4, activation: 'softmax' },
      ],
    },
  }),
  'conv2d (same and valid, strided), scale': task({
    input: { shape: [13, 11, 2], scale: 255 },
    output: { kind: 'classes', classes: 3 },
    model: {
      layers: [
        { kind: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
        { kind: 'conv2d', filters: 3, kernelSize: [4, 3], strides: [2, 2], padding: 'same', activation: 'sigmoid' },
        { kind: 'maxPool', poolSize: [2, 2], strides: [1, 2], padding: 'valid' },
        { kind: 'conv2d', filters: 5, kernelSize: [2, 2], strides: [2, 1], padding: 'valid', activation: 'tanh' },
        { kind: 'maxPool', poolSize: [3, 2], padding: 'same' },
        { kind: 'conv2d', filters: 2, kernelSize: 1, padding: 'valid', useBias: false },
        { kind: 'flatten' },
        { kind: 'dense', units: 3 },
      ],
    },
  }),
  'gru (returnSequences, flatten), standardize': task({
    input: { shape: [9, 3] },
    output: { kind: 'binary' },
    model: {
      layers: [
        { kind: 'gru', units: 6, returnSequences: true },
        { kind: 'flatten' },
        { kind: 'dense', units: 1 },
      ],
    },
    preprocessing: { standardize: { mean: [20, -3, 0.5], std: [4, 2, 0.25] } },
  }),
  'gru resetAfter, hardSigmoid, stacked': task({
    input: { shape: [8, 4] },
    output: { kind: 'classes', classes: 3 },
    model: {
      layers: [
        { kind: 'gru', units: 7, resetAfter: true, returnSequences: true },
        { kind: 'gru', units: 5, resetAfter: true, recurrentActivation: 'hardSigmoid', activation: 'relu' },
        { kind: 'dense', units: 3, activation: 'softmax' },
      ],
    },
  }),
  'gru without bias, hardSigmoid, linear': task({
    input: { shape: [6, 2] },
    output: { kind: 'regression', outputs: 2 },
    model: {
      layers: [
        { kind: 'gru', units: 4, useBias: false, recurrentActivation: 'hardSigmoid', activation: 'linear' },
        { kind: 'dense', units: 2 },
      ],
    },
  }),
  'lstm (conv1d, returnSequences, stacked) regression': task({
    input: { shape: [12, 2] },
    output: { kind: 'regression', outputs: 3 },
    model: {
      layers: [
        { kind: 'conv1d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
        { kind: 'lstm', units: 6, returnSequences: true },
        { kind: 'lstm', units: 5, recurrentActivation: 'hardSigmoid' },
        { kind: 'dense', units: 3, activation: 'tanh' },
      ],
    },
  }),
  'lstm without bias, returnSequences then flatten': task({
    input: { shape: [5, 3] },
    output: { kind: 'binary' },
    model: {
      layers: [
        { kind: 'lstm', units: 4, useBias: false, returnSequences: true, activation: 'relu' },
        { kind: 'flatten' },
        { kind: 'dense', units: 1, activation: 'sigmoid' },
      ],
    },
  }),
  'regression (dense, no bias)': task({
    input: { features: 7 },
    output: { kind: 'regression', outputs: 4 },
    model: {
      layers: [
        { kind: 'dense', units: 12, activation: 'relu', useBias: false },
        { kind: 'dense', units: 4 },
      ],
    },
  }),
};

const MODELS: [string, Task][] = [...(['mlp', '2nn', 'cnn'] as const).map((n): [string, Task] => [n, builtinTask(n)]), ...Object.entries(CUSTOM)];
const ONNX_RUNTIMES: RuntimeName[] = ['onnxruntime-node', 'onnxruntime-web'];
const figures: string[] = [];

describe('exportOnnx: ONNX Runtime equals TaskModel.predict', () => {
  afterAll(() => {
    // The figures the docs quote: max |ONNX - tfjs| per model and runtime on 100 seeded inputs.
    console.log(`max abs diff vs TaskModel.predict, ${EXAMPLES} inputs:\n${figures.join('\n')}`);
  });

  it.each(MODELS)('%s', async (label, t) => {
    const weights = randomWeights(t, 1);
    const x = randomInputs(t, EXAMPLES, 2);
    const reference = await TaskModel.create(t, weights);
    const expected = reference.predict(x, EXAMPLES);
    reference.dispose();
    const outputs = (taskLayout(t).shapes.at(-1) as number[])[0] as number;
    expect(expected.length).toBe(EXAMPLES * outputs);
    // The inputs and weights exercise the model: outputs differ across examples.
    expect(spread(expected)).toBeGreaterThan(1e-3);
    const diffs: string[] = [];
    for (const runtime of ONNX_RUNTIMES) {
      const predictor = await createPredictor(t, weights, { runtime });
      expect(predictor.runtime).toBe(runtime);
      const started = performance.now();
      const got = await predictor.predict(x, EXAMPLES);
      const ms = performance.now() - started;
      await predictor.dispose();
      const diff = maxAbsDiff(expected, got);
      diffs.push(`${runtime} ${diff.toExponential(2)} (${ms.toFixed(0)} ms)`);
      expect(diff, `${label} on ${runtime}`).toBeLessThanOrEqual(TOLERANCE);
    }
    figures.push(`  ${label.padEnd(50)} ${diffs.join('  ')}`);
  });
});

describe('exportOnnx: the model file', () => {
  it('is IR 8, opset 17, by fedmq, with the task in its metadata and input/output named', () => {
    const t = CUSTOM['gru resetAfter, hardSigmoid, stacked'] as Task;
    const bytes = exportOnnx(t, randomWeights(t, 3));
    const model = onnxProto.onnx.ModelProto.decode(bytes);
    expect(Number(model.irVersion)).toBe(ONNX_IR_VERSION);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', ONNX_OPSET]]);
    expect(model.producerName).toBe('fedmq');
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(parseTask(JSON.parse(meta[ONNX_METADATA.task] as string))).toEqual(t);
    expect(meta[ONNX_METADATA.paramCount]).toBe(String(taskLayout(t).paramCount));
    const graph = model.graph as onnxProto.onnx.GraphProto;
    expect(graph.input.map((i) => i.name)).toEqual(['input']);
    expect(graph.output.map((o) => o.name)).toEqual(['output']);
    const dims = (v: onnxProto.onnx.IValueInfoProto | undefined): (string | number)[] => (v?.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue));
    expect(dims(graph.input[0])).toEqual(['N', 8, 4]);
    expect(dims(graph.output[0])).toEqual(['N', 3]);
    expect(graph.node.filter((n) => n.opType === 'GRU')).toHaveLength(2);
  });

  it('refuses weights of the wrong length', () => {
    const t = builtinTask('mlp');
    expect(() => exportOnnx(t, new Float32Array(10))).toThrow(OptionsError);
    expect(() => exportOnnx(t, new Float32Array(10))).toThrow(/weights: expected 101770 float32 values/);
  });

  it('refuses a softmax inside a recurrent layer, naming the layer; auto then predicts with tfjs', async () => {
    const t = task({
      input: { shape: [4, 2] },
      output: { kind: 'classes', classes: 3 },
      model: { layers: [{ kind: 'conv1d', filters: 2, kernelSize: 2 }, { kind: 'gru', units: 3, activation: 'softmax' }] },
    });
    const weights = randomWeights(t, 4);
    expect(() => exportOnnx(t, weights)).toThrow(OptionsError);
    expect(() => exportOnnx(t, weights)).toThrow(/^task: layer 1 \(gru\): a softmax activation inside the recurrence/);
    await expect(createPredictor(t, weights, { runtime: 'onnxruntime-node' })).rejects.toThrow(/^task: layer 1 \(gru\)/);
    await expect(createPredictor(t, weights, { runtime: 'onnxruntime-web' })).rejects.toThrow(/^task: layer 1 \(gru\)/);
    const auto = await createPredictor(t, weights);
    expect(auto.runtime).toBe('tfjs');
    expect(auto.skipped.map((s) => s.runtime)).toEqual(['onnxruntime-node', 'onnxruntime-web']);
    expect(auto.skipped[0]?.reason).toMatch(/layer 1 \(gru\)/);
    const x = randomInputs(t, 3, 5);
    const y = await auto.predict(x, 3);
    expect(y).toHaveLength(9);
    await auto.dispose();
  });

  it('refuses a task whose fleet statistics are not filled in', () => {
    const t = task({ input: { features: 2 }, output: { kind: 'binary' }, model: { layers: [{ kind: 'dense', units: 1 }] }, preprocessing: { standardize: 'fleet' } });
    expect(() => exportOnnx(t, randomWeights(t, 6))).toThrow(/^task: preprocessing\.standardize: "fleet"/);
  });
});

describe('createPredictor', () => {
  const t = builtinTask('mlp');
  const weights = randomWeights(t, 7);
  const x = randomInputs(t, 4, 8);

  it('auto picks onnxruntime-node where it loads', async () => {
    const p = await createPredictor(t, weights);
    expect(p.runtime).toBe('onnxruntime-node');
    expect(p.skipped).toEqual([]);
    expect(p.inputSize).toBe(784);
    expect(p.outputSize).toBe(10);
    await p.dispose();
    await p.dispose();
    await expect(p.predict(x, 4)).rejects.toThrow(/disposed/);
  });

  it('auto falls back to onnxruntime-web when the native binary does not load, then to tfjs', async () => {
    const node = vi.spyOn(runtimeImports, 'onnxruntime-node').mockRejectedValue(new Error('libonnxruntime.so.1: cannot open shared object file'));
    try {
      const p = await createPredictor(t, weights);
      expect(p.runtime).toBe('onnxruntime-web');
      expect(p.skipped).toEqual([{ runtime: 'onnxruntime-node', reason: 'libonnxruntime.so.1: cannot open shared object file' }]);
      const a = await p.predict(x, 4);
      await p.dispose();
      const web = vi.spyOn(runtimeImports, 'onnxruntime-web').mockRejectedValue(new Error('no WebAssembly'));
      try {
        const q = await createPredictor(t, weights);
        expect(q.runtime).toBe('tfjs');
        expect(q.skipped.map((s) => s.runtime)).toEqual(['onnxruntime-node', 'onnxruntime-web']);
        expect(maxAbsDiff(a, await q.predict(x, 4))).toBeLessThanOrEqual(TOLERANCE);
        await q.dispose();
      } finally {
        web.mockRestore();
      }
      await expect(createPredictor(t, weights, { runtime: 'onnxruntime-node' })).rejects.toThrow(/^runtime: onnxruntime-node cannot run here \(linux-.*\): libonnxruntime/);
    } finally {
      node.mockRestore();
    }
  });

  it('checks its arguments', async () => {
    await expect(createPredictor(t, new Float32Array(3))).rejects.toThrow(/^weights: expected 101770/);
    await expect(createPredictor(t, weights, { runtime: 'onnx' as never })).rejects.toThrow(/^runtime: must be auto \| onnxruntime-node/);
    const p = await createPredictor(t, weights, { runtime: 'onnxruntime-node', threads: 1 });
    await expect(p.predict(x, 5)).rejects.toThrow(/^x: must hold 5 examples of 784 values/);
    await expect(p.predict(x, 0)).rejects.toThrow(/^count: must be a positive integer/);
    // Several calls at once are run one after the other and each gets its own answer.
    const [one, all] = await Promise.all([p.predict(x, 1), p.predict(x, 4)]);
    expect(maxAbsDiff(one, all.subarray(0, 10))).toBe(0);
    await p.dispose();
  });

  it('importing inference/ loads no runtime: onnxruntime and tfjs are imported on first use only', () => {
    const dir = new URL('.', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      const statics = [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
      for (const spec of statics) expect(spec, `${file} imports ${spec}`).not.toMatch(/onnxruntime|tensorflow|learning/);
    }
  });
});
