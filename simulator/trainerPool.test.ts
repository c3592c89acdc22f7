import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist, subset } from '../datasets/index.js';
import { LocalTrainer, type EvalJob, type TrainJob, type TrainOutcome } from '../device-agent/trainer.js';
import { currentBackend, initBackend, taskInitialWeights, TrainingStoppedError, type TaskData } from '../learning/index.js';
import { builtinTask, OptionsError, parseTask, type BuiltinTaskName, type Task } from '../protocol/index.js';
import { TrainerJobError, TrainerPool, TrainerPoolDisposedError, TrainerWorkerExitError, trainerWorkerUrl } from './trainerPool.js';

// These tests start the compiled worker (dist/simulator/trainerWorker.js): the global setup builds it.

/**
 * A stand-in worker that speaks the pool's protocol without tfjs: it echoes the global back
 * after 20 ms with the seed as its loss and, as metrics, whether the task came with the job
 * and the bytes per label of y; it exits on seed 13, throws (uncaught) on seed 14 and fails
 * the job on seed 15.
 */
const FAKE_WORKER = `
import { parentPort } from 'node:worker_threads';
parentPort.postMessage({ type: 'ready', backend: 'cpu' });
parentPort.on('message', (r) => {
  const spare = { weights: new ArrayBuffer(0), x: r.x.buffer, y: r.y.buffer };
  if (r.options.seed === 13) process.exit(3);
  if (r.options.seed === 14) throw new Error('worker blew up');
  if (r.options.seed === 15) return parentPort.postMessage({ type: 'failed', id: r.id, name: 'Error', message: 'no', spare });
  const metrics = { sentTask: r.task === undefined ? 0 : 1, yBytes: r.y.BYTES_PER_ELEMENT };
  setTimeout(() => parentPort.postMessage({ type: 'trained', id: r.id, outcome: { weights: r.weights, loss: r.options.seed, metrics, ms: 0 }, spare }, [r.weights.buffer]), 20);
});
`;

let dir = '';
let fakeWorker: URL;
let brokenWorker: URL;
let shards: TaskData[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-pool-'));
  writeFileSync(path.join(dir, 'fake.mjs'), FAKE_WORKER);
  writeFileSync(path.join(dir, 'broken.mjs'), "throw new Error('cannot start');\n");
  fakeWorker = pathToFileURL(path.join(dir, 'fake.mjs'));
  brokenWorker = pathToFileURL(path.join(dir, 'broken.mjs'));
  const { train } = await loadMnist();
  shards = [0, 1, 2].map((k) => subset(train, Array.from({ length: 300 }, (_, i) => 300 * k + i)));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hasTfjsNode(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

function job(name: BuiltinTaskName, data: TaskData, seed: number): TrainJob {
  const task = builtinTask(name);
  return { task, global: taskInitialWeights(task, 7), data, options: { epochs: 1, batchSize: 10, lr: 0.05, seed } };
}

function echoJob(seed: number, task: Task = builtinTask('mlp'), y: TaskData['y'] = new Uint8Array(1)): TrainJob {
  return { task, global: new Float32Array([seed]), data: { x: new Float32Array(784), y, count: 1 }, options: { epochs: 1, batchSize: 1, lr: 0.1, seed } };
}

function sameBits(a: TrainOutcome, b: TrainOutcome): boolean {
  return Buffer.from(a.weights.buffer, a.weights.byteOffset, a.weights.byteLength).equals(Buffer.from(b.weights.buffer, b.weights.byteOffset, b.weights.byteLength));
}

describe('a trainer pool', () => {
  it('trains real MNIST bit for bit as LocalTrainer does, for mlp and 2nn, on workers with the same backend', async () => {
    // Prepare
    await initBackend();
    const jobs = (['mlp', '2nn'] as const).flatMap((name) => shards.map((data, k) => job(name, data, k)));
    const local = new LocalTrainer();
    const expected: TrainOutcome[] = [];
    for (const j of jobs) expected.push(await local.train(j));
    local.dispose();
    const pool = new TrainerPool({ workers: 2 });
    const globals = jobs.map((j) => j.global.slice());
    // Execute: all at once, so jobs queue and each worker trains both models in turn.
    const backends = await pool.ready();
    const outcomes = await Promise.all(jobs.map((j) => pool.train(j)));
    pool.dispose();
    // Assert
    expect(backends).toEqual([currentBackend(), currentBackend()]);
    outcomes.forEach((outcome, i) => {
      const want = expected[i] as TrainOutcome;
      expect(sameBits(outcome, want), `job ${i} (${jobs[i]?.task.name})`).toBe(true);
      expect([outcome.loss, outcome.metrics]).toEqual([want.loss, want.metrics]);
      expect(Object.keys(outcome.metrics)).toEqual(['accuracy']);
    });
    // The caller's global is copied, not transferred away.
    jobs.forEach((j, i) => expect(j.global).toEqual(globals[i]));
  });

  it('evaluates, between train jobs, exactly as LocalTrainer does, also a task of another kind and a y of another type', async () => {
    // Prepare: the trained mlp, and a binary task (is the digit a 0?) on a Float32Array y.
    await initBackend();
    const mlp = builtinTask('mlp');
    const binary = parseTask({
      name: 'zero',
      input: { shape: [784] },
      output: { kind: 'binary' },
      model: { layers: [{ kind: 'dense', units: 16, activation: 'relu' }, { kind: 'dense', units: 1, activation: 'sigmoid' }] },
    });
    const shard = shards[0] as TaskData;
    const isZero: TaskData = { x: shard.x, y: Float32Array.from(shard.y, (y) => (y === 0 ? 1 : 0)), count: shard.count };
    const local = new LocalTrainer();
    const trained = await local.train(job('mlp', shard, 3));
    const evals: EvalJob[] = [
      { task: mlp, weights: trained.weights, data: shards[1] as TaskData },
      { task: binary, weights: taskInitialWeights(binary, 2), data: isZero },
      { task: mlp, weights: taskInitialWeights(mlp, 0), data: shards[2] as TaskData },
    ];
    const expected = [];
    for (const e of evals) expected.push(await local.evaluate(e));
    const binaryTrained = await local.train({ task: binary, global: taskInitialWeights(binary, 2), data: isZero, options: { epochs: 2, seed: 4 } });
    local.dispose();
    const pool = new TrainerPool({ workers: 2 });
    // Execute: evaluations and a train job of the other task queue together.
    const [results, poolTrained] = await Promise.all([
      Promise.all(evals.map((e) => pool.evaluate(e))),
      pool.train({ task: binary, global: taskInitialWeights(binary, 2), data: isZero, options: { epochs: 2, seed: 4 } }),
    ]);
    pool.dispose();
    // Assert
    expect(results).toEqual(expected);
    expect(Object.keys(results[1]?.metrics ?? {}).sort()).toEqual(['accuracy', 'f1', 'precision', 'recall']);
    expect(sameBits(poolTrained, binaryTrained)).toBe(true);
    expect(poolTrained.metrics).toEqual(binaryTrained.metrics);
  });

  it('sends a task to a worker once, again only when the task changes or a job failed, and keeps y\'s type', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, workerUrl: fakeWorker });
    const a = builtinTask('mlp');
    const b = builtinTask('2nn');
    // Execute: the same task as a new object still counts as the same task.
    const jobs = [echoJob(1, a), echoJob(2, builtinTask('mlp')), echoJob(3, b), echoJob(15, b), echoJob(4, b), echoJob(5, b, new Float32Array(1)), echoJob(6, a, new Uint16Array(1))];
    const outcomes = await Promise.all(jobs.map((j) => pool.train(j).catch((e: unknown) => e)));
    pool.dispose();
    // Assert
    const sent = outcomes.map((o) => (o instanceof Error ? 'failed' : (o as TrainOutcome).metrics.sentTask));
    expect(sent).toEqual([1, 0, 1, 'failed', 1, 0, 1]);
    expect(outcomes.slice(4).map((o) => (o as TrainOutcome).metrics.yBytes)).toEqual([1, 4, 2]);
  });

  it('refuses, without running it, a train job whose signal aborted while it waited', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, workerUrl: fakeWorker });
    const controller = new AbortController();
    // Execute
    const first = pool.train(echoJob(1));
    const waiting = pool.train({ ...echoJob(2), signal: controller.signal }).catch((e: unknown) => e);
    const third = pool.train(echoJob(3));
    controller.abort();
    const results = [(await first).loss, await waiting, (await third).loss];
    pool.dispose();
    // Assert
    expect(results[0]).toBe(1);
    expect(results[1]).toBeInstanceOf(TrainingStoppedError);
    expect(results[2]).toBe(3);
  });

  it('loads the backend it is asked for in every worker', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, backend: 'cpu' });
    // Execute
    const backends = await pool.ready();
    pool.dispose();
    // Assert
    expect(backends).toEqual(['cpu']);
  });

  it.skipIf(hasTfjsNode())('fails ready() and every job, never falling back, when the asked-for backend cannot load', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, backend: 'tensorflow' });
    // Execute
    const ready = await pool.ready().catch((e: unknown) => e);
    const trained = await pool.train(job('mlp', shards[0] as TaskData, 0)).catch((e: unknown) => e);
    pool.dispose();
    // Assert
    expect(ready).toBeInstanceOf(TrainerJobError);
    expect((ready as TrainerJobError).remoteName).toBe('OptionsError');
    expect((trained as Error).message).toBe((ready as Error).message);
  });

  it('rejects a job that throws in its worker with that error message, and keeps the worker', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1 });
    const bad = { ...job('mlp', shards[0] as TaskData, 0), global: new Float32Array(5) };
    const localError = await new LocalTrainer().train(bad).catch((e: Error) => e);
    // Execute
    const error = await pool.train(bad).catch((e: unknown) => e);
    const next = await pool.train(job('mlp', shards[0] as TaskData, 0));
    pool.dispose();
    // Assert
    expect(error).toBeInstanceOf(TrainerJobError);
    expect((error as TrainerJobError).message).toBe((localError as Error).message);
    expect((error as TrainerJobError).remoteName).toBe('WeightsLengthError');
    expect(next.weights.length).toBe(taskInitialWeights(builtinTask('mlp'), 0).length);
  });

  it('runs queued jobs first in, first out when every worker is busy', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, workerUrl: fakeWorker });
    const finished: number[] = [];
    // Execute
    const runs = [1, 2, 3, 4].map((seed) => pool.train(echoJob(seed)).then((o) => finished.push(o.loss)));
    const queued = pool.queued;
    await Promise.all(runs);
    pool.dispose();
    // Assert
    expect(queued).toBe(3);
    expect(finished).toEqual([1, 2, 3, 4]);
  });

  it('replaces a worker that dies and rejects only the job it held', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, workerUrl: fakeWorker });
    // Execute
    const exited = pool.train(echoJob(13)).catch((e: unknown) => e);
    const after = pool.train(echoJob(5));
    const thrown = await pool.train(echoJob(14)).catch((e: unknown) => e);
    const last = await pool.train(echoJob(6));
    pool.dispose();
    // Assert
    const exitError = await exited;
    expect(exitError).toBeInstanceOf(TrainerWorkerExitError);
    expect((exitError as TrainerWorkerExitError).exitCode).toBe(3);
    expect((await after).loss).toBe(5);
    expect(thrown).toBeInstanceOf(TrainerWorkerExitError);
    expect((thrown as Error).message).toContain('worker blew up');
    expect(last.loss).toBe(6);
  });

  it('gives up, without respawning, on a worker that dies before it starts', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, workerUrl: brokenWorker });
    // Execute
    const first = await pool.train(echoJob(1)).catch((e: unknown) => e);
    const ready = await pool.ready().catch((e: unknown) => e);
    const second = await pool.train(echoJob(2)).catch((e: unknown) => e);
    pool.dispose();
    // Assert
    expect(first).toBeInstanceOf(TrainerWorkerExitError);
    expect((first as Error).message).toContain('cannot start');
    expect(ready).toBe(first);
    expect(second).toBe(first);
  });

  it('rejects running and queued jobs on dispose, and every job after it', async () => {
    // Prepare
    const pool = new TrainerPool({ workers: 1, workerUrl: fakeWorker });
    const running = pool.train(echoJob(1)).catch((e: unknown) => e);
    const queued = pool.train(echoJob(2)).catch((e: unknown) => e);
    // Execute
    pool.dispose();
    pool.dispose();
    const later = await pool.train(echoJob(3)).catch((e: unknown) => e);
    // Assert
    expect(await running).toBeInstanceOf(TrainerPoolDisposedError);
    expect(await queued).toBeInstanceOf(TrainerPoolDisposedError);
    expect(later).toBeInstanceOf(TrainerPoolDisposedError);
  });

  it('lets the process exit while its workers are idle, without dispose', async () => {
    // Prepare: a process that trains one job from the compiled pool and forgets it.
    const pool = pathToFileURL(path.resolve('dist/simulator/trainerPool.js')).href;
    const size = taskInitialWeights(builtinTask('mlp'), 0).length;
    const script = `import { TrainerPool } from '${pool}';
      const p = new TrainerPool({ workers: 2, backend: 'cpu' });
      const task = ${JSON.stringify(builtinTask('mlp'))};
      const o = await p.train({ task, global: new Float32Array(${size}), data: { x: new Float32Array(784), y: new Uint8Array(1), count: 1 }, options: { epochs: 1, batchSize: 1, lr: 0.1, seed: 0 } });
      console.log(o.weights.length);`;
    // Execute
    writeFileSync(path.join(dir, 'forget.mjs'), script);
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(dir, 'forget.mjs')], { timeout: 20_000 });
    // Assert
    expect(stdout.trim()).toBe(String(size));
  });

  it('refuses invalid options', () => {
    expect(() => new TrainerPool({ workers: 0 })).toThrow(OptionsError);
    expect(() => new TrainerPool({ backend: 'gpu' as 'cpu' })).toThrow(OptionsError);
    expect(() => new TrainerPool({ workerUrl: pathToFileURL(path.join(dir, 'missing.js')) })).toThrow(/does not exist/);
  });

  it('finds the worker beside the compiled module, and in dist/ from the TypeScript source', () => {
    expect(trainerWorkerUrl('file:///app/dist/simulator/trainerPool.js').pathname).toBe('/app/dist/simulator/trainerWorker.js');
    expect(trainerWorkerUrl('file:///app/simulator/trainerPool.ts').pathname).toBe('/app/dist/simulator/trainerWorker.js');
  });
});
