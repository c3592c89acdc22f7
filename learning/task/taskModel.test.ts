import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../protocol/random.js';
import { builtinTask, parseTask, type Task } from '../../protocol/task.js';
import { LocalModel } from '../../bench/baseline/localModel.js';
import { Network } from '../../bench/baseline/network.js';
import { initialWeights } from '../../bench/baseline/initialWeights.js';
import { tensorCount } from '../memory.js';
import { bandsData, maxAbsDiff } from '../testSupport.js';
import { taskInitialWeights, TaskModel, type TaskData } from './index.js';
import { conv2dOp } from './layers.js';

/** n examples from `make(rng) -> [x, y]`. */
function dataset(n: number, seed: number, make: (rng: Rng) => [number[], number[]]): TaskData {
  const rng = Rng.derive(seed, 'test.task');
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const [x, y] = make(rng);
    xs.push(...x);
    ys.push(...y);
  }
  return { x: Float32Array.from(xs), y: Float32Array.from(ys), count: n };
}

/** Three classes of 8-step, 2-feature sequences: feature 0 rises, falls, or stays flat. */
const sequences = (n: number, seed: number): TaskData =>
  dataset(n, seed, (rng) => {
    const c = rng.int(3);
    const x: number[] = [];
    for (let t = 0; t < 8; t++) x.push((c === 0 ? t / 8 : c === 1 ? 1 - t / 8 : 0.5) + 0.1 * rng.normal(), rng.normal() * 0.1);
    return [x, [c]];
  });

/** A 16-sample signal, one channel: slow (class 0) or fast (class 1) oscillation, random phase. */
const signals = (n: number, seed: number): TaskData =>
  dataset(n, seed, (rng) => {
    const c = rng.int(2);
    const phase = rng.next() * 2 * Math.PI;
    return [Array.from({ length: 16 }, (_, t) => Math.sin(phase + t * (c === 0 ? 0.3 : 2.5))), [c]];
  });

/** 8x8 grey images: a vertical (0) or horizontal (1) bright bar at a random place, pixels 0..255. */
const bars = (n: number, seed: number): TaskData =>
  dataset(n, seed, (rng) => {
    const c = rng.int(2);
    const at = rng.int(8);
    const x = Array.from({ length: 64 }, (_, i) => ((c === 0 ? i % 8 : Math.floor(i / 8)) === at ? 200 : 0) + 40 * rng.next());
    return [x, [c]];
  });

/** Trains `task` on `data` and returns the loss before and after, evaluated on the same data. */
async function lossFall(task: Task, data: TaskData, epochs: number): Promise<{ before: number; after: number }> {
  const model = await TaskModel.create(task, taskInitialWeights(task, 3));
  const before = (await model.evaluate(data)).loss;
  await model.train(data, { epochs, seed: 1 });
  const after = (await model.evaluate(data)).loss;
  model.dispose();
  return { before, after };
}

describe('a task model: every layer kind trains', () => {
  it('dense + dropout, binary, adam: a tabular sensor rule', async () => {
    // Prepare
    const task = parseTask({
      input: { features: ['temperature', 'humidity', 'motion'] },
      output: { kind: 'binary' },
      model: { layers: [{ kind: 'dense', units: 8, activation: 'tanh' }, { kind: 'dropout', rate: 0.1 }, { kind: 'dense', units: 1, activation: 'sigmoid' }] },
      optimizer: { kind: 'adam', lr: 0.05 },
      training: { batchSize: 16 },
      preprocessing: { standardize: { mean: [20, 50, 0.5], std: [5, 10, 0.5] } },
    });
    const data = dataset(64, 1, (rng) => {
      const x = [20 + 5 * rng.normal(), 50 + 10 * rng.normal(), rng.int(2)];
      return [x, [(x[0] as number) > 21 && (x[2] as number) === 1 ? 1 : 0]];
    });
    // Execute
    const { before, after } = await lossFall(task, data, 15);
    // Assert
    expect(after).toBeLessThan(0.5 * before);
  });

  it('dense, regression, sgd with momentum: a linear target', async () => {
    // Prepare
    const task = parseTask({
      input: { features: 2 },
      output: { kind: 'regression' },
      model: { layers: [{ kind: 'dense', units: 4, activation: 'relu' }, { kind: 'dense', units: 1 }] },
      loss: 'meanSquaredError',
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
      training: { batchSize: 8 },
    });
    const data = dataset(48, 2, (rng) => {
      const x = [rng.next(), rng.next()];
      return [x, [2 * (x[0] as number) - (x[1] as number) + 0.5]];
    });
    // Execute
    const { before, after } = await lossFall(task, data, 15);
    // Assert
    expect(after).toBeLessThan(0.2 * before);
  });

  it('conv1d (strided) + maxPool 1-D + flatten: slow and fast signals', async () => {
    // Prepare
    const task = parseTask({
      input: { shape: [16, 1] },
      output: { kind: 'classes', classes: 2 },
      model: {
        layers: [
          { kind: 'conv1d', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' },
          { kind: 'maxPool', poolSize: 2 },
          { kind: 'flatten' },
          { kind: 'dense', units: 2 },
        ],
      },
      optimizer: { kind: 'adam', lr: 0.05 },
      training: { batchSize: 16 },
    });
    // Execute
    const { before, after } = await lossFall(task, signals(48, 3), 15);
    // Assert
    expect(after).toBeLessThan(0.5 * before);
  });

  it('conv2d (valid and strided same) + maxPool 2-D on 8x8 images scaled by the task', async () => {
    // Prepare
    const task = parseTask({
      input: { shape: [8, 8, 1], scale: 255 },
      output: { kind: 'classes', classes: 2 },
      model: {
        layers: [
          { kind: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu' },
          { kind: 'maxPool', poolSize: 2 },
          { kind: 'conv2d', filters: 4, kernelSize: [2, 3], strides: 2, padding: 'same', activation: 'relu' },
          { kind: 'flatten' },
          { kind: 'dense', units: 2, activation: 'softmax' },
        ],
      },
      optimizer: { kind: 'adam', lr: 0.02 },
      training: { batchSize: 16 },
    });
    // Execute
    const { before, after } = await lossFall(task, bars(48, 4), 15);
    // Assert
    expect(after).toBeLessThan(0.5 * before);
  });

  it.each([
    ['gru', { kind: 'gru', units: 6 }],
    ['gru with resetAfter and hard sigmoid gates', { kind: 'gru', units: 6, resetAfter: true, recurrentActivation: 'hardSigmoid' }],
    ['lstm', { kind: 'lstm', units: 6 }],
    ['lstm returning sequences', { kind: 'lstm', units: 4, returnSequences: true }],
  ])('%s on rising, falling and flat sequences', async (_label, layer) => {
    // Prepare
    const sequenceOut = 'returnSequences' in layer;
    const task = parseTask({
      input: { shape: [8, 2] },
      output: { kind: 'classes', classes: 3 },
      model: { layers: [layer, ...(sequenceOut ? [{ kind: 'flatten' }] : []), { kind: 'dense', units: 3 }] },
      optimizer: { kind: 'adam', lr: 0.05 },
      training: { batchSize: 16 },
    });
    // Execute
    const { before, after } = await lossFall(task, sequences(48, 5), 12);
    // Assert
    expect(after).toBeLessThan(0.5 * before);
  });

  it('reports the task\'s metrics and leaves no tensors behind', async () => {
    // Prepare
    const task = parseTask({
      input: { shape: [8, 2] },
      output: { kind: 'binary' },
      model: { layers: [{ kind: 'gru', units: 3 }, { kind: 'dropout', rate: 0.5 }, { kind: 'dense', units: 1 }] },
      metrics: ['accuracy', 'precision', 'recall', 'f1'],
    });
    const data = sequences(20, 6);
    data.y = data.y.map((c) => (c === 0 ? 1 : 0));
    const model = await TaskModel.create(task);
    await model.train(data, { seed: 1 });
    const tensors = tensorCount();
    // Execute
    const trained = await model.train(data, { seed: 2, mu: 0.1 });
    const result = await model.evaluate(data, 7);
    // Assert
    expect(tensorCount()).toBe(tensors);
    expect(Object.keys(result.metrics)).toEqual(['accuracy', 'precision', 'recall', 'f1']);
    expect(result.sums.tp + result.sums.fp + result.sums.fn + result.sums.tn).toBe(20);
    expect(result.metrics.accuracy).toBeCloseTo((result.sums.tp + result.sums.tn) / 20, 6);
    expect(trained.steps).toBe(1);
    model.dispose();
  });

  it('frees its optimiser state after every training: adam and momentum keep nothing between rounds', async () => {
    for (const optimizer of [{ kind: 'adam' }, { kind: 'sgd', momentum: 0.9 }]) {
      // Prepare
      const task = parseTask({ input: { shape: [8, 2] }, output: { kind: 'binary' }, model: { layers: [{ kind: 'flatten' }, { kind: 'dense', units: 4 }, { kind: 'dense', units: 1 }] }, optimizer });
      const data = sequences(20, 6);
      data.y = data.y.map((c) => (c === 0 ? 1 : 0));
      const model = await TaskModel.create(task);
      await model.train(data, { seed: 1 });
      const tensors = tensorCount();
      // Execute
      for (let round = 2; round < 5; round++) await model.train(data, { seed: round });
      // Assert
      expect(tensorCount()).toBe(tensors);
      model.dispose();
    }
  });
});

describe('the built-in tasks', () => {
  it('start from the zoo\'s initial weights, bit for bit', () => {
    for (const name of ['mlp', '2nn', 'cnn'] as const) {
      // Assert
      expect(Buffer.from(taskInitialWeights(builtinTask(name), 7).buffer).equals(Buffer.from(initialWeights(name, 7).buffer))).toBe(true);
    }
  });

  it('cnn: the same outputs as the zoo\'s network on the same weights', async () => {
    // Prepare
    const weights = initialWeights('cnn', 1);
    const model = await TaskModel.create(builtinTask('cnn'), weights);
    const net = new Network('cnn', weights);
    const data = bandsData(3, 1);
    // Execute
    const ours = model.predict(data.x, 3);
    const theirs = tf.tidy(() => net.forward(tf.tensor2d(data.x, [3, 784])).dataSync() as Float32Array).slice();
    // Assert
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
    model.dispose();
    net.dispose();
  });

  it('mlp: a local training step by step like the zoo\'s LocalModel', async () => {
    // Prepare
    const weights = initialWeights('mlp', 2);
    const model = await TaskModel.create(builtinTask('mlp'), weights);
    const local = await LocalModel.create('mlp');
    local.setWeights(weights);
    const data = bandsData(60, 3);
    // Execute
    const ours = await model.train(data, { epochs: 1, batchSize: 20, lr: 0.05, seed: 4 });
    const theirs = await local.train(data, { epochs: 1, batchSize: 20, lr: 0.05, seed: 4 });
    // Assert
    expect(maxAbsDiff(model.getWeights(), local.getWeights())).toBeLessThan(1e-6);
    expect(ours.loss).toBeCloseTo(theirs.loss, 5);
    expect(ours.metrics.accuracy).toBeCloseTo(theirs.accuracy, 6);
    model.dispose();
    local.dispose();
  });
});

describe('the convolution with hand-written gradients', () => {
  it.each([
    ['valid, stride 1', 1, 'valid'],
    ['same, stride 2', 2, 'same'],
    ['valid, stride 2', 2, 'valid'],
  ] as const)('matches finite differences (%s)', async (_label, stride, padding) => {
    // Prepare
    await TaskModel.create(builtinTask('mlp')).then((m) => m.dispose());
    const rng = Rng.derive(1, 'test.conv');
    const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
    const x = tf.tensor4d(rand(2 * 7 * 6 * 2), [2, 7, 6, 2]);
    const w = tf.tensor4d(rand(3 * 2 * 2 * 3), [3, 2, 2, 3]);
    const probe = (y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D): tf.Scalar => probe(conv2dOp(xx, ww, [stride, stride], padding, true));
    // Execute
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D))([x, w]);
    // The probe is linear in x and in w: a central difference is exact but for rounding.
    const numeric = (t: tf.Tensor4D, which: 0 | 1, i: number): number => {
      const values = t.dataSync().slice();
      const at = (delta: number): number => {
        values[i] = (t.dataSync()[i] as number) + delta;
        const moved = tf.tensor4d(values, t.shape);
        const v = (which === 0 ? f(moved, w) : f(x, moved)).dataSync()[0] as number;
        moved.dispose();
        return v;
      };
      return (at(0.5) - at(-0.5)) / 1;
    };
    // Assert
    for (const i of [0, 5, 17, 35]) expect(numeric(w, 1, i)).toBeCloseTo(dw?.dataSync()[i] as number, 3);
    for (const i of [0, 13, 40, 83]) expect(numeric(x, 0, i)).toBeCloseTo(dx?.dataSync()[i] as number, 3);
  });
});

describe('the GRU with resetAfter (Keras 2\'s default, which tfjs cannot load)', () => {
  it('computes what Keras computes, written out in plain JS', async () => {
    // Prepare
    const [steps, features, units] = [4, 2, 3];
    const task = parseTask({
      input: { shape: [steps, features] },
      output: { kind: 'regression', outputs: 2 },
      model: { layers: [{ kind: 'gru', units, resetAfter: true }, { kind: 'dense', units: 2 }] },
    });
    const rng = Rng.derive(1, 'test.gru');
    const weights = taskInitialWeights(task, 1).map(() => 0.5 * rng.normal());
    const x = Float32Array.from({ length: steps * features }, () => rng.normal());
    // Keras: z, r, h gates; bias [2, 3u] = input bias, recurrent bias; hh = tanh(xh + r * (h Uh + brh)).
    let o = 0;
    const take = (n: number): Float32Array => weights.subarray(o, (o += n));
    const [w, u, b, dw, db] = [take(features * 3 * units), take(units * 3 * units), take(2 * 3 * units), take(units * 2), take(2)];
    const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
    let h = new Array<number>(units).fill(0);
    for (let t = 0; t < steps; t++) {
      const xw = Array.from({ length: 3 * units }, (_, j) => (b[j] as number) + Array.from({ length: features }, (_, f) => (x[t * features + f] as number) * (w[f * 3 * units + j] as number)).reduce((p, q) => p + q));
      const hu = Array.from({ length: 3 * units }, (_, j) => (b[3 * units + j] as number) + h.reduce((s, hk, k) => s + hk * (u[k * 3 * units + j] as number), 0));
      h = h.map((hk, k) => {
        const z = sigmoid((xw[k] as number) + (hu[k] as number));
        const r = sigmoid((xw[units + k] as number) + (hu[units + k] as number));
        const hh = Math.tanh((xw[2 * units + k] as number) + r * (hu[2 * units + k] as number));
        return z * hk + (1 - z) * hh;
      });
    }
    const expected = Float32Array.from([0, 1], (j) => (db[j] as number) + h.reduce((s, hk, k) => s + hk * (dw[k * 2 + j] as number), 0));
    const model = await TaskModel.create(task, weights);
    // Execute
    const got = model.predict(x, 1);
    // Assert
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
    model.dispose();
  });
});
