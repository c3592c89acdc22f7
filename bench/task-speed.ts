/**
 * Local training speed of the task path (`TaskModel` on `builtinTask(name)`) against the
 * pre-task zoo path (`LocalModel`, kept in bench/baseline/ only for this comparison), on the
 * same backend, the same 600 MNIST examples, the same starting weights and seeds: examples per
 * second (examples x epochs / wall time of `train`) for mlp and 2nn at B=20, lr 0.05 and
 * several epoch counts. A warm-up run first; then the two paths alternate (which goes first
 * swaps every repetition) and each cell is the median of its repetitions. The ratio task/zoo
 * is the acceptance figure (>= 0.9).
 * Usage: npm run build && node dist/bench/task-speed.js [--backend auto|tensorflow|wasm|cpu] [--examples 600] [--epochs 1,2,5] [--repeats 7] [--out FILE]
 */
import os from 'node:os';
import { loadMnist, subset } from '../datasets/index.js';
import { initBackend, TaskModel, taskInitialWeights, type BackendName, type TaskData } from '../learning/index.js';
import { builtinTask } from '../protocol/index.js';
import { LocalModel } from './baseline/localModel.js';
import { flag, printTable, writeResults } from './table.js';

const MODELS = ['mlp', '2nn'] as const;
const backendFlag = flag('backend', 'auto') as BackendName | 'auto';
const examples = Number(flag('examples', '600'));
const epochList = flag('epochs', '1,2,5').split(',').map(Number);
const repeats = Number(flag('repeats', '7'));
const BATCH = 20;
const LR = 0.05;
const SEED = 1;

const backend = await initBackend(backendFlag);
const { train } = await loadMnist();
const ds = subset(train, Array.from({ length: examples }, (_, i) => i));
// Uint8Array labels: data for both paths.
const data = { x: ds.x, y: ds.y, count: ds.count } satisfies TaskData;
const loadAverage = os.loadavg()[0] as number;
console.log(
  `task-speed: ${examples} MNIST examples, B=${BATCH}, lr ${LR}, E in {${epochList.join(', ')}}, median of ${repeats}; backend ${backend}, node ${process.version}, ${os.availableParallelism()} cores, load average ${loadAverage.toFixed(2)}`,
);

interface Path {
  name: 'zoo' | 'task';
  /** Trains from the model's initial weights, returns wall ms. */
  run(epochs: number): Promise<number>;
  dispose(): void;
}

async function paths(model: (typeof MODELS)[number]): Promise<Path[]> {
  const task = builtinTask(model);
  const start = taskInitialWeights(task, 0);
  const zoo = await LocalModel.create(model);
  const tm = await TaskModel.create(task);
  const timed = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  return [
    {
      name: 'zoo',
      run: (epochs) => {
        zoo.setWeights(start);
        return timed(() => zoo.train(data, { epochs, batchSize: BATCH, lr: LR, seed: SEED }));
      },
      dispose: () => zoo.dispose(),
    },
    {
      name: 'task',
      run: (epochs) => {
        tm.setWeights(start);
        return timed(() => tm.train(data, { epochs, batchSize: BATCH, lr: LR, seed: SEED }));
      },
      dispose: () => tm.dispose(),
    },
  ];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const rows: Record<string, string | number>[] = [];
const raw: Record<string, Record<string, number[]>> = {};
const ratios: Record<string, number> = {};
for (const model of MODELS) {
  const ps = await paths(model);
  // Warm-up: backend kernels, JIT, tfjs's caches, for both paths.
  for (const p of ps) await p.run(1);
  const ms: Record<string, number[]> = {};
  for (let r = 0; r < repeats; r++) {
    const order = r % 2 === 0 ? ps : [...ps].reverse();
    for (const epochs of epochList) {
      for (const p of order) (ms[`${p.name} E=${epochs}`] ??= []).push(await p.run(epochs));
    }
  }
  for (const p of ps) p.dispose();
  raw[model] = ms;
  let zooTotal = 0;
  let taskTotal = 0;
  for (const epochs of epochList) {
    const zoo = (examples * epochs) / (median(ms[`zoo E=${epochs}`] ?? []) / 1000);
    const task = (examples * epochs) / (median(ms[`task E=${epochs}`] ?? []) / 1000);
    zooTotal += examples * epochs * (1000 / zoo);
    taskTotal += examples * epochs * (1000 / task);
    rows.push({ model, epochs, 'zoo ex/s': zoo, 'task ex/s': task, 'task/zoo': task / zoo });
  }
  // Over all epoch counts: total median time of the zoo over total median time of the task.
  ratios[model] = zooTotal / taskTotal;
}
printTable(rows);
console.log('');
for (const model of MODELS) console.log(`${model}: task/zoo ${ratios[model]!.toFixed(3)} (target >= 0.9)`);

const out = await writeResults(
  'task-speed',
  {
    config: { examples, epochs: epochList, batchSize: BATCH, lr: LR, seed: SEED, repeats, models: MODELS },
    environment: { backend, node: process.version, cpus: os.availableParallelism(), loadAverage },
    rows,
    ratios,
    msPerRun: raw,
  },
  flag('out', '') || undefined,
);
console.log(`wrote ${out}`);
