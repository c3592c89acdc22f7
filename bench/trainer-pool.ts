/**
 * Local training throughput of a simulated fleet: one `LocalTrainer` on the main thread
 * against a `TrainerPool` of 1 and 2 worker threads, on the same jobs (2nn, real MNIST,
 * E=1, B=10); checks the results are bit-identical and measures the memory each worker adds.
 * Usage: npm run build && node --expose-gc dist/bench/trainer-pool.js [--jobs 20] [--examples 600] [--repeats 2] [--out FILE]
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { loadMnist, subset } from '../datasets/index.js';
import { LocalTrainer, type Trainer, type TrainJob, type TrainOutcome } from '../device-agent/index.js';
import { currentBackend, taskInitialWeights } from '../learning/index.js';
import { builtinTask } from '../protocol/index.js';
import { TrainerPool } from '../simulator/index.js';
import { flag, printTable, writeResults } from './table.js';

const jobCount = Number(flag('jobs', '20'));
const examples = Number(flag('examples', '600'));
const repeats = Number(flag('repeats', '2'));
const MB = 1024 * 1024;

const { train } = await loadMnist();
const task = builtinTask('2nn');
const jobs: TrainJob[] = Array.from({ length: jobCount }, (_, i) => ({
  task,
  global: taskInitialWeights(task, 0),
  data: subset(train, Array.from({ length: examples }, (_, k) => (i * examples + k) % train.count)),
  options: { epochs: 1, batchSize: 10, lr: 0.05, seed: i },
}));
const loadAverage = os.loadavg()[0] as number;
console.log(`trainer-pool: ${jobCount} jobs, 2nn, ${examples} MNIST examples each, E=1 B=10; ${os.availableParallelism()} cores, load average ${loadAverage.toFixed(2)}`);

/** Process RSS (every thread's heap is in it) after a full collection when --expose-gc is on. */
function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / MB;
}

// Memory first, before the main thread loads a backend of its own.
const before = rssMb();
const probe = new TrainerPool({ workers: 2 });
const started = performance.now();
await probe.ready();
const startMs = performance.now() - started;
const idle = rssMb();
await Promise.all([probe.train(jobs[0]!), probe.train(jobs[1]!)]);
const warm = rssMb();
probe.dispose();
const memory = {
  gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
  startMs,
  idlePerWorkerMb: (idle - before) / 2,
  warmPerWorkerMb: (warm - before) / 2,
};

/** All jobs at once, timed. */
async function timed(trainer: Trainer): Promise<{ seconds: number; outcomes: TrainOutcome[] }> {
  const t0 = performance.now();
  const outcomes = await Promise.all(jobs.map((j) => trainer.train(j)));
  return { seconds: (performance.now() - t0) / 1000, outcomes };
}

// Each trainer lives for the whole bench, as it would for a whole simulation, and is warmed
// first (backend, model, JIT) with a few jobs per thread. Other processes may share the cores:
// the configurations run `repeats` times, interleaved, and each one's fastest run counts.
const configs = [0, 1, 2].map((workers) => ({
  workers,
  trainer: workers === 0 ? new LocalTrainer() : new TrainerPool({ workers }),
  seconds: [] as number[],
  outcomes: [] as TrainOutcome[],
}));
for (const c of configs) await Promise.all(jobs.slice(0, 3 * Math.max(1, c.workers)).map((j) => c.trainer.train(j)));
for (let r = 0; r < repeats; r++) {
  for (const c of configs) {
    const run = await timed(c.trainer);
    if (run.seconds < Math.min(...c.seconds)) c.outcomes = run.outcomes;
    c.seconds.push(run.seconds);
  }
}
for (const c of configs) c.trainer.dispose();
/**
 * The ceiling for the pool, whatever else runs here: how much faster 2 threads of plain JS
 * get through the same work than 1 (2 on two idle cores, 1 when other processes hold a core).
 */
async function plainJsSpeedup(): Promise<number> {
  const code = `const { parentPort } = require('node:worker_threads'); let x = 0;
    for (let i = 0; i < 1e8; i++) x = (x * 31 + i) | 0; parentPort.postMessage(x);`;
  const wall = async (threads: number): Promise<number> => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: threads }, () => new Promise((done) => new Worker(code, { eval: true }).once('message', done))));
    return performance.now() - t0;
  };
  const one = await wall(1);
  return (2 * one) / (await wall(2));
}
const ceiling = await plainJsSpeedup();

const best = (c: (typeof configs)[number]): number => Math.min(...c.seconds);
const local = configs[0]!;
const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const rows: Record<string, string | number>[] = configs.map((c) => ({
  trainer: c.workers === 0 ? 'LocalTrainer (main thread)' : 'TrainerPool',
  workers: c.workers,
  'wall s': best(c),
  'jobs/s': jobCount / best(c),
  'speed-up': best(local) / best(c),
  // Time inside TaskModel.train, as the trainer reports it: the rest of a job's wall time is overhead.
  'train ms/job': c.outcomes.reduce((sum, o) => sum + o.ms, 0) / jobCount,
  'bit-identical': c.outcomes.every((o, i) => same(o.weights, local.outcomes[i]!.weights)) ? 'yes' : 'NO',
}));
printTable(rows);

// What sending a job costs the main thread: copying its data and global into fresh buffers,
// or into the spares a worker hands back (what the pool does after each worker's first job).
function msPerJob(copy: (j: TrainJob) => void): number {
  const reps = 100;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) copy(jobs[i % jobCount]!);
  return (performance.now() - t0) / reps;
}
const spare = { x: new Float32Array(jobs[0]!.data.x.length), y: new Uint8Array(jobs[0]!.data.y.length), global: new Float32Array(jobs[0]!.global.length) };
const copy = {
  freshMsPerJob: msPerJob((j) => [j.data.x.slice(), j.data.y.slice(), j.global.slice()]),
  reusedMsPerJob: msPerJob((j) => {
    spare.x.set(j.data.x);
    spare.y.set(j.data.y);
    spare.global.set(j.global);
  }),
};
const trainMsPerJob = (1000 * best(local)) / jobCount;

console.log(`\nmemory per worker: ${memory.idlePerWorkerMb.toFixed(1)} MB idle (backend loaded), ${memory.warmPerWorkerMb.toFixed(1)} MB with a 2nn model trained${memory.gc ? '' : ' (run with --expose-gc for steadier numbers)'}; pool of 2 ready in ${startMs.toFixed(0)} ms`);
console.log(
  `sending a job copies ${((jobs[0]!.data.x.byteLength + jobs[0]!.global.byteLength) / MB).toFixed(2)} MB: ${copy.reusedMsPerJob.toFixed(2)} ms into spare buffers, ${copy.freshMsPerJob.toFixed(2)} ms into fresh ones, against ${trainMsPerJob.toFixed(0)} ms of training`,
);
console.log(`ceiling: 2 threads of plain JS ran ${ceiling.toFixed(2)}x as fast as 1 during this bench`);
console.log(`backend ${currentBackend()}; load average was ${loadAverage.toFixed(2)} on ${os.availableParallelism()} cores (other processes share them)`);
const out = await writeResults(
  'trainer-pool',
  {
    config: { jobs: jobCount, examples, repeats, model: '2nn', epochs: 1, batchSize: 10, lr: 0.05 },
    environment: { backend: currentBackend(), node: process.version, cpus: os.availableParallelism(), loadAverage, plainJsSpeedup2Threads: ceiling },
    rows,
    secondsPerRun: Object.fromEntries(configs.map((c) => [c.workers === 0 ? 'local' : `pool${c.workers}`, c.seconds])),
    memory,
    copy,
    trainMsPerJob,
  },
  flag('out', '') || undefined,
);
console.log(`wrote ${out}`);
