/**
 * The sensor example (examples/sensor: 4 TelosB motes, humidity and temperature, labelled
 * events): why federated learning is worth it. One task (examples/sensor/task.json), one
 * budget (every mote's training rows seen `rounds` times), three ways to train it:
 * - federated: FedAvg over the 4 motes, a real `Simulation` (MQTT, one device per mote,
 *   fleet statistics, federated evaluation), `rounds` rounds of 1 local epoch, f32 updates, and
 *   again with top-1% int8 updates with error feedback (topk:0.01+int8+ef, the default before issue 14);
 * - alone: each mote trains its own model on its own training rows for `rounds` epochs;
 * - pooled: one model on all motes' training rows together for `rounds` epochs.
 * Each is scored on every mote's held-out readings (the simulation's split: 20% of each mote's
 * windows, seeded) and on the four pooled; F1 is "n/a" where a mote has no event to find (motes
 * 2 and 3 never have one). A second table scores each model on the whole fleet's held-out
 * readings: what a mote's model would do where events do happen.
 * The federated global comes from the simulation's checkpoint and is scored here on the same
 * held-out rows (the fleet total is checked against the simulation's own federated evaluation).
 * Mean over seeds (each seed: initial weights, held-out draw, shuffles).
 * Usage: npx tsc -p tsconfig.build.json && node dist/bench/sensor.js [--seeds 0,1,2] [--rounds 30] [--out FILE]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../aggregator/checkpoint.js';
import { combineMoments, deviceExamples, featureStatistics, loadDeviceData, parseDeviceDataOptions, splitByGroup, type Examples } from '../datasets/index.js';
import { currentBackend } from '../learning/index.js';
import { TaskModel, taskInitialWeights, type EvalSums } from '../learning/task/index.js';
import { parseTask, type Task } from '../protocol/task.js';
import { Simulation } from '../simulator/index.js';
import { flag, printTable, writeResults } from './table.js';

const TASK_FILE = 'examples/sensor/task.json';
const DATA_FILE = 'examples/sensor/readings.csv';
/** How the simulation reads the file (the README's command gives the same flags). */
const DATA_FLAGS = { time: 'reading', window: 30, stride: 1 } as const;

const seeds = flag('seeds', '0,1,2').split(',').map(Number);
const rounds = Number(flag('rounds', '30'));
const out = flag('out', '');

type Counts = { tp: number; fp: number; fn: number; correct: number; count: number };
const zero = (): Counts => ({ tp: 0, fp: 0, fn: 0, correct: 0, count: 0 });
const add = (a: Counts, b: Counts): Counts => ({ tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn, correct: a.correct + b.correct, count: a.count + b.count });
const counts = (s: EvalSums, count: number): Counts => ({ tp: s.tp, fp: s.fp, fn: s.fn, correct: s.correct, count });
/** F1 of the events; undefined when there is no event to find (F1 is 0/0). */
const f1 = (c: Counts): number | undefined => (c.tp + c.fn === 0 ? undefined : (2 * c.tp) / (2 * c.tp + c.fp + c.fn));
const accuracy = (c: Counts): number => c.correct / c.count;

/** The sparse codec of the committed table (the default before issue 14): what top-1% updates do to a 497-weight model. */
const SPARSE_CODEC = 'topk:0.01+int8+ef';
const SETTINGS = ['federated', 'federated-codec', 'alone', 'pooled'] as const;
type Setting = (typeof SETTINGS)[number];
/** Per seed, per setting: counts on each mote's held-out rows (and, for `fleet`, each model on every mote's). */
interface SeedResult {
  seed: number;
  motes: string[];
  own: Record<Setting, Counts[]>;
  /** Model of mote i alone (or the one shared model) on all motes' held-out rows. */
  fleet: Record<Setting, Counts[]>;
  simulated: Record<'federated' | 'federated-codec', { f1: number; accuracy: number; wallMs: number; bytesUp: number }>;
  ms: Record<Setting, number>;
}

const spec = JSON.parse(await readFile(TASK_FILE, 'utf8')) as unknown;
const fileTask = parseTask(spec);
const features = fileTask.input.features ?? [];
console.log(`sensor: ${TASK_FILE} on ${DATA_FILE}, window ${DATA_FLAGS.window} stride ${DATA_FLAGS.stride}, ${rounds} rounds = ${rounds} epochs, seeds ${seeds.join(',')}, ${os.cpus().length} cpus`);

const results: SeedResult[] = [];
for (const seed of seeds) results.push(await runSeed(seed));

async function runSeed(seed: number): Promise<SeedResult> {
  // The simulation's data, as fleetData.ts reads it: by:mote, the task's feature columns, the run's seed.
  const config = parseDeviceDataOptions({ ...DATA_FLAGS, features: [...features], groupBy: 'mote', holdout: 0.2, holdoutBy: 'example', seed });
  const motes = splitByGroup(await loadDeviceData(DATA_FILE, config)).map((g) => ({ id: g.id, ex: deviceExamples(g.data, config) }));
  const held = motes.map((m) => m.ex.holdout as Examples);
  // What the statistics phase gathers: every mote's training readings' moments, added up.
  const stats = featureStatistics(combineMoments(motes.map((m) => m.ex.moments())));
  const task: Task = { ...fileTask, preprocessing: { standardize: { mean: stats.mean, std: stats.std } } };
  const model = await TaskModel.create(task);
  const init = taskInitialWeights(task, seed);
  const score = async (weights: Float32Array, data: Examples): Promise<Counts> => {
    model.setWeights(weights);
    const r = await model.evaluate(data);
    return counts(r.sums, r.count);
  };
  // One model, so one evaluation at a time.
  const scoreAll = async (w: Float32Array): Promise<Counts[]> => {
    const out: Counts[] = [];
    for (const h of held) out.push(await score(w, h));
    return out;
  };
  const own = {} as Record<Setting, Counts[]>;
  const fleet = {} as Record<Setting, Counts[]>;
  const ms = {} as Record<Setting, number>;
  const simulated = {} as SeedResult['simulated'];

  for (const [setting, codec] of [['federated', 'f32'], ['federated-codec', SPARSE_CODEC]] as const) {
    const started = performance.now();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-sensor-'));
    try {
      const checkpoint = path.join(dir, 'global.safetensors');
      const sim = new Simulation({
        task: fileTask, data: DATA_FILE, partition: 'by:mote', dataConfig: { ...DATA_FLAGS }, evaluate: ['federated'],
        rounds, seed, codec, checkpoint, downlink: 'f32',
      });
      const gathered = { mean: [] as number[] };
      sim.on('statisticsGathered', (s) => (gathered.mean = s.mean));
      const report = await sim.run();
      const saved = await loadCheckpoint(checkpoint, task.name, model.paramCount);
      if (saved === null) throw new Error(`${setting}: the simulation saved no checkpoint`);
      if (gathered.mean.length !== stats.mean.length || gathered.mean.some((m, f) => Math.abs(m - (stats.mean[f] as number)) > 1e-4 * Math.abs(m))) {
        throw new Error(`${setting}: fleet statistics ${JSON.stringify(gathered.mean)} differ from the motes' training rows' ${JSON.stringify(stats.mean)}`);
      }
      own[setting] = await scoreAll(saved.weights);
      fleet[setting] = [own[setting].reduce(add, zero())];
      const last = report.rounds[report.rounds.length - 1]?.federated;
      if (!last) throw new Error(`${setting}: no federated evaluation in the last round`);
      const mine = fleet[setting][0] as Counts;
      if (last.count !== mine.count || Math.abs((last.metrics.accuracy ?? NaN) - accuracy(mine)) > 1e-6) {
        throw new Error(`${setting}: the simulation's federated evaluation (${last.count} examples, accuracy ${last.metrics.accuracy}) differs from the checkpoint's here (${mine.count}, ${accuracy(mine)})`);
      }
      simulated[setting] = { f1: last.metrics.f1 ?? NaN, accuracy: last.metrics.accuracy ?? NaN, wallMs: report.final.wallMs, bytesUp: report.final.bytesUpTotal };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    ms[setting] = performance.now() - started;
  }

  let started = performance.now();
  const alone: Float32Array[] = [];
  for (const [i, m] of motes.entries()) {
    model.setWeights(init);
    await model.train(m.ex.train, { seed: seed * 100 + i, epochs: rounds });
    alone.push(model.getWeights());
  }
  own.alone = [];
  for (const [i, h] of held.entries()) own.alone.push(await score(alone[i] as Float32Array, h));
  fleet.alone = [];
  for (const w of alone) fleet.alone.push((await scoreAll(w)).reduce(add, zero()));
  ms.alone = performance.now() - started;

  started = performance.now();
  const n = task.input.shape.reduce((a, b) => a * b, 1);
  const count = motes.reduce((s, m) => s + m.ex.train.count, 0);
  const x = new Float32Array(count * n);
  const y = new Float32Array(count);
  let at = 0;
  for (const { ex } of motes) {
    x.set(ex.train.x.subarray(0, ex.train.count * n), at * n);
    y.set(ex.train.y.subarray(0, ex.train.count), at);
    at += ex.train.count;
  }
  model.setWeights(init);
  await model.train({ x, y, count }, { seed, epochs: rounds });
  own.pooled = await scoreAll(model.getWeights());
  fleet.pooled = [own.pooled.reduce(add, zero())];
  ms.pooled = performance.now() - started;
  model.dispose();

  const line = (s: Setting): string => {
    const all = own[s].reduce(add, zero());
    return `${s} F1 ${f1(all)?.toFixed(3)} acc ${accuracy(all).toFixed(4)} (${(ms[s] / 1000).toFixed(1)} s)`;
  };
  console.log(`seed ${seed}: ${SETTINGS.map(line).join('; ')}`);
  return { seed, motes: motes.map((m) => m.id), own, fleet, simulated, ms };
}

const mean = (xs: (number | undefined)[]): number | undefined => {
  const defined = xs.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : defined.reduce((a, b) => a + b, 0) / defined.length;
};
const cell = (v: number | undefined): string | number => (v === undefined ? 'n/a' : Number(v.toFixed(3)));
const motes = results[0]!.motes;
const held = (i: number | null): Counts[] => results.map((r) => (i === null ? r.own.alone.reduce(add, zero()) : r.own.alone[i]!));

console.log(`\nEach mote's held-out readings (mean of ${seeds.length} seed${seeds.length === 1 ? '' : 's'}; events: held-out readings labelled 1)`);
const ownRows: Record<string, string | number>[] = [...motes.map((_, i) => i), null].map((i) => {
  const pick = (s: Setting): Counts[] => results.map((r) => (i === null ? r.own[s].reduce(add, zero()) : r.own[s][i]!));
  const row: Record<string, string | number> = {
    mote: i === null ? 'all' : motes[i]!,
    'held out': Math.round(mean(held(i).map((c) => c.count))!),
    events: Math.round(mean(held(i).map((c) => c.tp + c.fn))!),
  };
  for (const s of SETTINGS) {
    row[`${s} F1`] = cell(mean(pick(s).map(f1)));
    row[`${s} acc`] = Number(mean(pick(s).map(accuracy))!.toFixed(4));
  }
  return row;
});
printTable(ownRows);

console.log(`\nEvery mote's held-out readings, pooled, scored by one model (mean of ${seeds.length} seed${seeds.length === 1 ? '' : 's'})`);
const fleetRows: Record<string, string | number>[] = [];
const fleetRow = (name: string, pick: (r: SeedResult) => Counts): void => {
  const cs = results.map(pick);
  fleetRows.push({
    model: name, F1: cell(mean(cs.map(f1))), accuracy: Number(mean(cs.map(accuracy))!.toFixed(4)),
    'events found': Number(mean(cs.map((c) => c.tp))!.toFixed(1)), 'events missed': Number(mean(cs.map((c) => c.fn))!.toFixed(1)),
    'false alarms': Number(mean(cs.map((c) => c.fp))!.toFixed(1)),
  });
};
fleetRow('federated (f32)', (r) => r.fleet.federated[0]!);
fleetRow(`federated (${SPARSE_CODEC})`, (r) => r.fleet['federated-codec'][0]!);
fleetRow('pooled', (r) => r.fleet.pooled[0]!);
motes.forEach((id, i) => fleetRow(`mote ${id} alone`, (r) => r.fleet.alone[i]!));
printTable(fleetRows);

const file = await writeResults('sensor', {
  task: TASK_FILE, data: DATA_FILE, dataFlags: { ...DATA_FLAGS, partition: 'by:mote', holdout: 0.2, holdoutBy: 'example' },
  rounds, epochs: rounds, seeds, backend: currentBackend(), node: process.version, cpus: os.cpus().length,
  perMote: ownRows, fleet: fleetRows,
  runs: results.map((r) => ({ seed: r.seed, motes: r.motes, own: r.own, fleet: r.fleet, simulated: r.simulated, ms: r.ms })),
}, out || undefined);
console.log(`\nwrote ${file}`);
