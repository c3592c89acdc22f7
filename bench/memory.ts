/**
 * Heap over a long simulation: tensors must be disposed and buffers released, so the heap
 * after round 5 should not grow by more than 10% over the rest of the run, and the live tensor
 * count should not move. Trains on the main thread (no worker pool), so what the devices' models
 * hold is in the heap and tensor count measured here.
 *
 * Default: the built-in mlp on MNIST, 10 devices (iid), central evaluation. `--task FILE|mlp|2nn`
 * and the simulator's data options run any task on a data file:
 *   --data PATH --partition by:COLUMN|iid|... --evaluate central|federated|central,federated
 *   --label COL --features A,B --time COL --window N --stride S --holdout SHARE --target KIND --classes A,B
 * `--sensor` is the sensor example (examples/sensor/readings.csv, one device per mote, federated
 * evaluation on a held-out 20%) with examples/sensor/task.json, or a small task of its own if
 * that file is absent (or with `--task inline`); any flag above still overrides it. With data and a [window, features]
 * task, the window defaults to the task's.
 * Usage: npm run build && node --expose-gc dist/bench/memory.js [--rounds 50] [--devices 10] [--sensor] [--out FILE]
 */
import { existsSync } from 'node:fs';
import { Simulation, type SimulationSettings } from '../simulator/index.js';
import { loadTaskSource, type Evaluation } from '../aggregator/index.js';
import { parseTask, type Task } from '../protocol/index.js';
import { currentBackend, tensorCount } from '../learning/index.js';
import type { DeviceDataOptions } from '../datasets/index.js';
import { flag, printTable, writeResults } from './table.js';

const SENSOR_DATA = 'examples/sensor/readings.csv';
const SENSOR_TASK_FILE = 'examples/sensor/task.json';
/** Event or not from one reading (humidity, temperature), standardised with the fleet's statistics. */
const SENSOR_TASK = {
  name: 'sensor-memory',
  input: { features: ['humidity', 'temperature'] },
  output: { kind: 'binary' },
  model: { layers: [{ kind: 'dense', units: 8, activation: 'relu' }, { kind: 'dense', units: 1 }] },
  metrics: ['accuracy', 'precision', 'recall', 'f1'],
  optimizer: { kind: 'adam', lr: 0.01 },
  training: { epochs: 1, batchSize: 32 },
  preprocessing: { standardize: 'fleet' },
};

const sensor = process.argv.includes('--sensor');
const has = (name: string): boolean => process.argv.includes(`--${name}`);
const opt = (name: string): string | undefined => (has(name) ? flag(name, '') : undefined);
const rounds = Number(flag('rounds', '50'));

const taskSpec = opt('task') ?? (sensor && existsSync(SENSOR_TASK_FILE) ? SENSOR_TASK_FILE : sensor ? 'inline' : 'mlp');
const source: { task: Task; weights?: Float32Array; source: string } = taskSpec === 'inline'
  ? { task: parseTask(SENSOR_TASK), source: 'inline:sensor-memory' }
  : await loadTaskSource(taskSpec);
const data = opt('data') ?? (sensor ? SENSOR_DATA : undefined);
const partition = opt('partition') ?? (sensor ? 'by:mote' : undefined);
const evaluate = (opt('evaluate') ?? (sensor ? 'federated' : undefined))?.split(',') as Evaluation[] | undefined;
const natural = partition?.startsWith('by:') ?? false;
const devices = natural ? undefined : Number(flag('devices', '10'));
const dataConfig: DeviceDataOptions = Object.fromEntries(Object.entries({
  label: opt('label'),
  features: opt('features') ?? (sensor ? 'humidity,temperature' : undefined),
  time: opt('time') ?? (sensor ? 'reading' : undefined),
  // A sequence task's window is its input's first dimension unless given.
  window: opt('window') === undefined ? (source.task.input.shape.length === 2 ? source.task.input.shape[0] : undefined) : Number(opt('window')),
  stride: opt('stride') === undefined ? undefined : Number(opt('stride')),
  target: opt('target'),
  classes: opt('classes'),
}).filter(([, v]) => v !== undefined)) as DeviceDataOptions;
const holdout = opt('holdout') === undefined ? undefined : Number(opt('holdout'));

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.log('note: run with node --expose-gc for a steadier heap reading');

const settings: SimulationSettings = {
  // The committed tables' codec and downlink (the defaults before issue 14); --codec and --downlink change them.
  codec: opt('codec') ?? 'topk:0.01+int8+ef', downlink: opt('downlink') ?? 'f32',
  rounds, workers: 0, task: source.task, ...(source.weights && { initialWeights: source.weights }),
  ...(devices !== undefined && { devices }), ...(partition !== undefined && { partition }), ...(data !== undefined && { data, dataConfig }),
  ...(evaluate !== undefined && { evaluate }), ...(holdout !== undefined && { holdout }),
};
interface Sample { round: number; heapMb: number; rssMb: number; tensors: number; loss: number; metric: string; value: number }
const samples: Sample[] = [];
const simulation = new Simulation(settings);
const mainMetric = (metrics: Record<string, number> | undefined): [string, number] => {
  if (!metrics) return ['-', NaN];
  const name = 'accuracy' in metrics ? 'accuracy' : Object.keys(metrics)[0];
  return name === undefined ? ['-', NaN] : [name, metrics[name]!];
};
simulation.on('roundClosed', (r) => {
  gc?.();
  const m = process.memoryUsage();
  // Central accuracy when there is one, else the fleet's pooled held-out metrics.
  const [metric, value] = Number.isNaN(r.accuracy) || r.accuracy === undefined ? mainMetric(r.federated?.metrics) : ['accuracy', r.accuracy];
  samples.push({ round: r.round, heapMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20, tensors: tensorCount(), loss: r.federated?.loss ?? r.loss, metric, value });
  if (r.round % 5 === 0) console.log(`round ${r.round}: heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MB, rss ${(m.rss / 2 ** 20).toFixed(0)} MB, tensors ${tensorCount()}, ${metric} ${value.toFixed(4)}`);
});
const o = simulation.options;
const where = o.data === undefined ? 'MNIST' : o.data;
console.log(`memory: task ${source.source}, ${where}, partition ${partition ?? 'iid'}, evaluate ${o.evaluate.join(',')}, ${rounds} rounds`);
const report = await simulation.run();

const base = samples.find((s) => s.round === 5) ?? samples[0]!;
const after = samples.filter((s) => s.round > base.round);
const peak = Math.max(...after.map((s) => s.heapMb));
const last = samples[samples.length - 1]!;
const growth = (100 * (last.heapMb - base.heapMb)) / base.heapMb;
const peakGrowth = (100 * (peak - base.heapMb)) / base.heapMb;
const tensorsAfterBase = [...new Set([base, ...after].map((s) => s.tensors))];
const tensorsStable = tensorsAfterBase.length <= 1;
printTable(samples.filter((s) => s.round % 5 === 0 || s.round === 1).map((s) => ({ round: s.round, 'heap MB': s.heapMb, 'rss MB': s.rssMb, tensors: s.tensors, loss: s.loss, [s.metric]: s.value })));
console.log(`\nheap growth from round ${base.round} to ${last.round}: ${growth.toFixed(1)}% (peak ${peakGrowth.toFixed(1)}%; target < 10%); tensors ${base.tensors} -> ${last.tensors} (${tensorsStable ? 'stable' : 'NOT stable'}); backend ${currentBackend()}`);
const out = await writeResults(sensor ? 'memory-sensor' : 'memory', {
  task: source.source, backend: currentBackend(), data: where, partition: partition ?? 'iid', devices: report.fleet?.devices ?? o.devices, evaluate: o.evaluate, rounds,
  baseRound: base.round, growthPercent: growth, peakGrowthPercent: peakGrowth, tensorsStable, tensorsAfterBase: tensorsStable ? tensorsAfterBase : [tensorsAfterBase[0], tensorsAfterBase.at(-1)], samples,
}, flag('out', '') || undefined);
console.log(`wrote ${out}`);
