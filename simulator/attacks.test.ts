import { describe, expect, it } from 'vitest';
import { builtinTask, OptionsError, parseTask, Rng, type Task } from '../protocol/index.js';
import { loadMnist, subset } from '../datasets/index.js';
import { taskInitialWeights, type TaskData } from '../learning/index.js';
import { LocalTrainer, type EvalJob, type Trainer, type TrainJob } from '../device-agent/trainer.js';
import { ATTACK_SPECS, attackTrainer, chooseAttackers, flipLabels, parseAttack } from './attacks.js';

const P = 1000;

/**
 * A test double for a unit test: "trains" by adding a fixed delta to the global, and records
 * the jobs it was given.
 */
class FixedDeltaTrainer implements Trainer {
  readonly jobs: TrainJob[] = [];
  readonly evalJobs: EvalJob[] = [];
  disposed = false;
  constructor(readonly delta: Float32Array) {}
  async train(job: TrainJob) {
    this.jobs.push(job);
    return { weights: job.global.map((g, i) => g + this.delta[i]!), loss: 0.5, metrics: { accuracy: 0.75 }, ms: 42 };
  }
  async evaluate(job: EvalJob) {
    this.evalJobs.push(job);
    return { count: job.data.count, loss: 0.25, metrics: { accuracy: 0.5 }, sums: { loss: 0.75, correct: 1.5, tp: 0, fp: 0, fn: 0, tn: 0, squaredError: 0, absoluteError: 0 } };
  }
  dispose(): void {
    this.disposed = true;
  }
}

function vector(seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: P }, () => rng.normal() * scale);
}

function job(global: Float32Array, seed = 1, task: Task = builtinTask('mlp'), y: TaskData['y'] = new Uint8Array([0, 3, 9])): TrainJob {
  const data: TaskData = { x: new Float32Array(3 * 784), y, count: 3 };
  return { task, global, data, options: { epochs: 1, batchSize: 2, lr: 0.1, seed } };
}

const flat = (output: object, units: number, activation: string): Task =>
  parseTask({ name: 'flat', input: { shape: [784] }, output, model: { layers: [{ kind: 'dense', units, activation }] } });

function sentDelta(weights: Float32Array, global: Float32Array): Float64Array {
  return Float64Array.from(weights, (w, i) => w - global[i]!);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! ** 2;
  return Math.sqrt(s);
}

describe('attack specs', () => {
  it('fill in the defaults and name themselves canonically', () => {
    expect(parseAttack('signflip:0.2')).toEqual({ kind: 'signflip', fraction: 0.2, param: 4, spec: 'signflip:0.2:4' });
    expect(parseAttack('scale:0.1').param).toBe(10);
    expect(parseAttack('noise:0.3').param).toBe(300);
    expect(parseAttack('noise:.3:50').spec).toBe('noise:0.3:50');
    expect(parseAttack('labelflip:1')).toEqual({ kind: 'labelflip', fraction: 1, param: undefined, spec: 'labelflip:1' });
    expect(parseAttack('zero:0').spec).toBe('zero:0');
    for (const spec of ['signflip:0.2:4', 'labelflip:0.5']) expect(parseAttack(parseAttack(spec).spec).spec).toBe(spec);
    expect(ATTACK_SPECS).toHaveLength(5);
  });

  it('reject bad specs with OptionsError naming the attack option', () => {
    for (const spec of ['', 'flip:0.2', 'signflip', 'signflip:', 'signflip:1.5', 'signflip:-0.1', 'signflip:0.2:0', 'signflip:0.2:-1', 'scale:0.2:x', 'noise:0.2:1:2', 'labelflip:0.2:3', 'zero:0.1:1']) {
      expect(() => parseAttack(spec), spec).toThrow(OptionsError);
      try {
        parseAttack(spec);
      } catch (e) {
        expect((e as OptionsError).option).toBe('attack');
      }
    }
  });
});

describe('choosing attackers', () => {
  const ids = Array.from({ length: 20 }, (_, k) => `dev-${k}`);

  it('takes round(fraction * n) devices, the same for the same seed whatever the id order', () => {
    // Execute
    const a = chooseAttackers(ids, 0.2, 5);
    const b = chooseAttackers([...ids].reverse(), 0.2, 5);
    // Assert
    expect(a.size).toBe(4);
    expect([...a].sort()).toEqual([...b].sort());
    for (const id of a) expect(ids).toContain(id);
    expect(chooseAttackers(ids, 0.25, 5).size).toBe(5);
    expect(chooseAttackers(ids, 0, 5).size).toBe(0);
    expect(chooseAttackers(ids, 1, 5).size).toBe(20);
  });

  it('draws another set from another seed', () => {
    const sets = [1, 2, 3, 4].map((seed) => [...chooseAttackers(ids, 0.3, seed)].sort().join());
    expect(new Set(sets).size).toBeGreaterThan(1);
  });
});

describe('an attacking trainer', () => {
  const global = vector(1, 0.1);
  const honest = vector(2, 0.01);

  it('signflip sends -k times the honest delta', async () => {
    const out = await attackTrainer(new FixedDeltaTrainer(honest), parseAttack('signflip:0.2:4'), 0).train(job(global));
    const d = sentDelta(out.weights, global);
    for (let i = 0; i < P; i++) expect(d[i]).toBeCloseTo(-4 * honest[i]!, 5);
  });

  it('scale boosts the honest delta by its factor (10 by default)', async () => {
    const out = await attackTrainer(new FixedDeltaTrainer(honest), parseAttack('scale:0.2'), 0).train(job(global));
    const d = sentDelta(out.weights, global);
    for (let i = 0; i < P; i++) expect(d[i]).toBeCloseTo(10 * honest[i]!, 5);
  });

  it('noise sends a Gaussian delta of the given L2 norm, fresh per job and reproducible by seed', async () => {
    // Prepare
    const attack = parseAttack('noise:0.2:50');
    const trainer = attackTrainer(new FixedDeltaTrainer(honest), attack, 9);
    // Execute
    const a = sentDelta((await trainer.train(job(global, 1))).weights, global);
    const again = sentDelta((await attackTrainer(new FixedDeltaTrainer(honest), attack, 9).train(job(global, 1))).weights, global);
    const b = sentDelta((await trainer.train(job(global, 2))).weights, global);
    // Assert
    expect(norm(a)).toBeCloseTo(50, 3);
    expect(again).toEqual(a);
    expect(b).not.toEqual(a);
    // Unrelated to the honest delta: cosine near 0 (|cos| < 4 / sqrt(P) with overwhelming odds).
    const cos = a.reduce((s, v, i) => s + v * honest[i]!, 0) / (norm(a) * norm(honest));
    expect(Math.abs(cos)).toBeLessThan(4 / Math.sqrt(P));
  });

  it('zero sends the global back unchanged, after training like everyone else', async () => {
    const inner = new FixedDeltaTrainer(honest);
    const out = await attackTrainer(inner, parseAttack('zero:0.2'), 0).train(job(global));
    expect(out.weights).toEqual(global);
    expect(out.weights).not.toBe(global);
    expect(inner.jobs).toHaveLength(1);
  });

  it('labelflip trains on a copy with labels y -> 9 - y, leaving the shared data alone', async () => {
    // Prepare
    const inner = new FixedDeltaTrainer(honest);
    const j = job(global);
    // Execute
    const out = await attackTrainer(inner, parseAttack('labelflip:0.2'), 0).train(j);
    // Assert
    expect(Array.from(inner.jobs[0]!.data.y)).toEqual([9, 6, 0]);
    expect(Array.from(j.data.y)).toEqual([0, 3, 9]);
    expect(inner.jobs[0]!.data.x).toBe(j.data.x);
    expect(sentDelta(out.weights, global).every((v, i) => Math.abs(v - honest[i]!) < 1e-6)).toBe(true);
  });

  it('labelflip flips the labels of any task with labels, in their array type: C - 1 - y for C classes, 0 <-> 1 for binary', async () => {
    // Prepare
    const classes = flat({ kind: 'classes', classes: 4 }, 4, 'softmax');
    const binary = flat({ kind: 'binary' }, 1, 'sigmoid');
    const inner = new FixedDeltaTrainer(honest);
    const trainer = attackTrainer(inner, parseAttack('labelflip:0.2'), 0);
    // Execute
    await trainer.train(job(global, 1, classes, new Int32Array([0, 3, 1])));
    await trainer.train(job(global, 1, binary, new Float32Array([1, 0, 1])));
    await trainer.train(job(global, 1, builtinTask('mlp'), new Uint16Array([9, 0, 5])));
    // Assert
    expect(inner.jobs.map((jb) => [jb.data.y.constructor.name, Array.from(jb.data.y)])).toEqual([
      ['Int32Array', [3, 0, 2]],
      ['Float32Array', [0, 1, 0]],
      ['Uint16Array', [0, 9, 4]],
    ]);
  });

  it('labelflip refuses a regression task with a clear error, and trains nothing', async () => {
    // Prepare
    const regression = flat({ kind: 'regression', outputs: 1 }, 1, 'linear');
    const inner = new FixedDeltaTrainer(honest);
    // Execute
    const error = await attackTrainer(inner, parseAttack('labelflip:0.2'), 0)
      .train(job(global, 1, regression, new Float32Array([0.5, 1.5, -2])))
      .catch((e: unknown) => e);
    // Assert
    expect(error).toBeInstanceOf(OptionsError);
    expect((error as Error).message).toMatch(/labelflip needs a classification task; task "flat" is a regression/);
    expect(inner.jobs).toHaveLength(0);
    expect(() => flipLabels(regression, new Float32Array(1))).toThrow(OptionsError);
  });

  it('evaluates with the inner trainer, untouched, for every attack', async () => {
    for (const spec of ['signflip:0.2', 'scale:0.2', 'noise:0.2', 'labelflip:0.2', 'zero:0.2']) {
      // Prepare
      const inner = new FixedDeltaTrainer(honest);
      const evalJob: EvalJob = { task: builtinTask('mlp'), weights: global, data: job(global).data };
      // Execute
      const result = await attackTrainer(inner, parseAttack(spec), 0).evaluate(evalJob);
      // Assert
      expect(result.loss, spec).toBe(0.25);
      expect(inner.evalJobs, spec).toEqual([evalJob]);
      expect(inner.evalJobs[0]!.data, spec).toBe(evalJob.data);
    }
  });

  it('reports the inner metrics and timing, and disposes the inner trainer', async () => {
    const inner = new FixedDeltaTrainer(honest);
    const trainer = attackTrainer(inner, parseAttack('signflip:0.5'), 0);
    const out = await trainer.train(job(global));
    expect([out.loss, out.metrics, out.ms]).toEqual([0.5, { accuracy: 0.75 }, 42]);
    trainer.dispose();
    expect(inner.disposed).toBe(true);
  });

  it('labelflip on real MNIST teaches the model the permuted labels', async () => {
    // Prepare: 500 training digits, evaluated on themselves with true and flipped labels.
    const { train } = await loadMnist();
    const slice = subset(train, Array.from({ length: 500 }, (_, i) => i));
    const data: TaskData = { x: slice.x, y: slice.y, count: slice.count };
    const labels = data.y.slice();
    const mlp = builtinTask('mlp');
    const trainer = attackTrainer(new LocalTrainer(), parseAttack('labelflip:1'), 0);
    // Execute: evaluate goes through the attacker untouched, on the data as given.
    const out = await trainer.train({ task: mlp, global: taskInitialWeights(mlp, 0), data, options: { epochs: 5, batchSize: 20, lr: 0.1, seed: 1 } });
    const onTrue = await trainer.evaluate({ task: mlp, weights: out.weights, data });
    const onFlipped = await trainer.evaluate({ task: mlp, weights: out.weights, data: { ...data, y: data.y.map((y) => 9 - y) } });
    // Assert
    expect(onFlipped.metrics.accuracy).toBeGreaterThan(0.8);
    expect(onTrue.metrics.accuracy).toBeLessThan(0.2);
    expect(data.y).toEqual(labels);
    trainer.dispose();
  });
});
