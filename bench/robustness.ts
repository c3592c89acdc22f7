/**
 * Strategy x attack: final accuracy after a fixed number of rounds on MNIST, 2NN, shards:2,
 * 20 devices, fixed seed; then rounds to 95% for FedAvg and the server optimizers on the
 * same non-IID task without attackers.
 * Usage: npm run build && node dist/bench/robustness.js [--rounds 15] [--speed-rounds 60] [--jobs 2] [--fresh]
 * `--probe [--probe-rounds 3,10]` instead follows clean FedAvg in-process (same task) and, at
 * the rounds given, feeds every aggregator the very same honest deltas, with and without the
 * attackers: how far each step is from the honest mean, and the test accuracy one step gives.
 */
import os from 'node:os';
import path from 'node:path';
import { loadMnist, parsePartition, partition, subset } from '../datasets/index.js';
import { TaskModel, taskInitialWeights } from '../learning/index.js';
import { builtinTask, isBuiltinTaskName } from '../protocol/index.js';
import { applyDelta, centeredClip, coordinateMedian, krumSelect, l2Norm, mean, trimmedMean } from '../aggregator/index.js';
import { chooseAttackers, deviceId, parseAttack } from '../simulator/index.js';
import { runGrid, roundsTo, type GridRun } from './grid.js';
import { flag, printTable, writeResults } from './table.js';

const task = {
  devices: flag('devices', '20'), partition: 'shards:2', model: '2nn', lr: flag('lr', '0.1'),
  'batch-size': '20', epochs: '1', seed: flag('seed', '1'), codec: 'f32',
  // Made before the step downlink became the default: the float32 global down.
  downlink: flag('downlink', 'f32'),
};
const rounds = flag('rounds', '15');
const speedRounds = flag('speed-rounds', '60');
const strategies = flag('strategies', 'fedavg,median,trimmed-mean:0.2,multikrum:4,normbound:2+fedavg,bucket:2+median,bucket:2+trimmed-mean:0.2,cclip:1,bucket:2+cclip:1').split(',');
const attacks = flag('attacks', 'clean,signflip:0.2,scale:0.2:10,labelflip:0.2,noise:0.2').split(',');
const speedStrategies = flag('speed-strategies', 'fedavg,fedavgm,fedadam').split(',');
/** What FedAvg reaches when the attackers send nothing at all (the data honest devices hold). */
const HONEST_ONLY = 'zero:0.2';
/** Issue 4's acceptance: these attacks cost FedAvg >= 10 pt, these strategies <= 3 pt against clean FedAvg. */
const ACCEPTANCE = { attacks: ['signflip:0.2', 'scale:0.2:10'], strategies: ['median', 'trimmed-mean:0.2', 'multikrum:4'], fedavgLoss: 0.1, robustGap: 0.03 };
const jobs = Number(flag('jobs', String(os.cpus().length)));
if (process.argv.includes('--probe')) {
  await probe(flag('probe-rounds', '3,10').split(',').map(Number));
  process.exit(0);
}
const fresh = process.argv.includes('--fresh');

const grid: GridRun[] = strategies.flatMap((strategy) => attacks.map((attack) => ({
  name: `${strategy} ${attack}`,
  flags: { ...task, rounds, strategy, ...(attack === 'clean' ? {} : { attack }) },
})));
// Each stops at 95%: what is compared is how soon it gets there.
const speed: GridRun[] = speedStrategies.map((strategy) => ({
  name: `speed ${strategy}`,
  flags: { ...task, rounds: speedRounds, strategy, 'target-accuracy': '0.95' },
}));
console.log(`robustness: ${Object.entries(task).map(([k, v]) => `${k}=${v}`).join(' ')}, ${rounds} rounds; ${jobs} at a time`);
const reference: GridRun = { name: `fedavg ${HONEST_ONLY}`, flags: { ...task, rounds, strategy: 'fedavg', attack: HONEST_ONLY } };
const reports = await runGrid(path.join('bench', 'results', 'robustness'), [...grid, reference, ...speed], jobs, fresh);

const clean = reports.get(`fedavg clean`)!.final.accuracy;
const table = strategies.map((strategy) => ({
  strategy,
  ...Object.fromEntries(attacks.map((attack) => [attack, reports.get(`${strategy} ${attack}`)!.final.accuracy])),
}));
printTable(table);
const honestOnly = reports.get(reference.name)!.final.accuracy;
console.log(`\nfinal accuracy after ${rounds} rounds; clean FedAvg ${clean.toFixed(4)}; FedAvg with the attackers silent (${HONEST_ONLY}) ${honestOnly.toFixed(4)}\n`);

// Each acceptance cell: accuracy, points against clean FedAvg, and whether it meets the bar.
const acceptance = ACCEPTANCE.attacks.flatMap((attack) => ['fedavg', ...ACCEPTANCE.strategies].filter((s) => reports.has(`${s} ${attack}`)).map((strategy) => {
  const accuracy = reports.get(`${strategy} ${attack}`)!.final.accuracy;
  const pts = Math.round((clean - accuracy) * 1000) / 10;
  const ok = strategy === 'fedavg' ? clean - accuracy >= ACCEPTANCE.fedavgLoss : clean - accuracy <= ACCEPTANCE.robustGap;
  return { strategy, attack, accuracy, 'pts below clean fedavg': pts, bar: strategy === 'fedavg' ? '>= 10' : '<= 3', meets: ok ? 'yes' : 'NO' };
}));
printTable(acceptance);
console.log();
const speedRows = speedStrategies.map((strategy) => {
  const r = reports.get(`speed ${strategy}`)!;
  return { strategy, 'rounds to 90%': roundsTo(r, 0.9), 'rounds to 95%': roundsTo(r, 0.95), 'last acc': r.final.accuracy };
});
printTable(speedRows);
const out = await writeResults('robustness', { task, rounds, table, honestOnly: { attack: HONEST_ONLY, accuracy: honestOnly }, acceptance, speed: speedRows }, flag('out', '') || undefined);
console.log(`wrote ${out}`);

/**
 * One-step comparison on identical inputs. The trajectory is clean FedAvg's; at each probe
 * round every aggregator gets the same 20 trained deltas (attackers' replaced as the simulator
 * poisons them). Reports zeta / |mu| (mean distance of honest deltas from their mean, over the
 * mean's norm: how non-IID the round is), each step's cosine and length ratio to the honest
 * mean, and the test accuracy of global + step.
 */
async function probe(at: number[]): Promise<void> {
  const n = Number(task.devices);
  const seed = Number(task.seed);
  if (!isBuiltinTaskName(task.model)) throw new Error(`unknown model ${task.model}`);
  const builtin = builtinTask(task.model);
  const { train, test } = await loadMnist();
  const shards = partition(train.y, n, parsePartition(task.partition), seed);
  const ids = Array.from({ length: n }, (_, i) => deviceId(i, n));
  const model = await TaskModel.create(builtin);
  const f = 4;
  const aggregators: Record<string, (x: Float32Array[], previous: Float64Array) => ArrayLike<number>> = {
    fedavg: (x) => mean(x),
    median: (x) => coordinateMedian(x),
    'trimmed-mean:0.2': (x) => trimmedMean(x, 0.2),
    'multikrum:4': (x) => mean(krumSelect(x, f, x.length - f).map((k) => x[k]!)),
    'cclip:1': (x, previous) => centeredClip(x, previous, 1, 5),
  };
  const poisons = ['clean', 'signflip:0.2', 'scale:0.2:10'].map((spec) => {
    if (spec === 'clean') return { spec, attackers: new Set<string>(), factor: 1 };
    const a = parseAttack(spec);
    return { spec, attackers: chooseAttackers(ids, a.fraction, seed), factor: a.kind === 'signflip' ? -a.param! : a.param! };
  });
  let w = taskInitialWeights(builtin, seed);
  let previous: Float64Array = new Float64Array(w.length);
  const rows: Record<string, string | number>[] = [];
  const accuracyOf = async (step: ArrayLike<number>): Promise<number> => {
    model.setWeights(applyDelta(w, step));
    return (await model.evaluate(test)).metrics.accuracy ?? NaN;
  };
  for (let round = 1; round <= Math.max(...at); round++) {
    const honest: Float32Array[] = [];
    for (let k = 0; k < n; k++) {
      model.setWeights(w);
      await model.train(subset(train, shards[k]!), { epochs: Number(task.epochs), batchSize: Number(task['batch-size']), lr: Number(task.lr), seed: 1000 * round + k });
      honest.push(Float32Array.from(model.getWeights(), (v, i) => v - w[i]!));
    }
    const all = mean(honest);
    if (at.includes(round)) {
      for (const p of poisons) {
        const good = honest.filter((_, k) => !p.attackers.has(ids[k]!));
        const mu = mean(good);
        const zeta = good.reduce((s, h) => s + l2Norm(Float64Array.from(h, (v, i) => v - mu[i]!)), 0) / good.length / l2Norm(mu);
        const x = honest.map((h, k) => (p.attackers.has(ids[k]!) ? h.map((v) => p.factor * v) : h));
        for (const [name, aggregate] of Object.entries(aggregators)) {
          const step = aggregate(x, previous);
          let dot = 0;
          for (let i = 0; i < mu.length; i++) dot += step[i]! * mu[i]!;
          const norm = l2Norm(step);
          rows.push({ round, attack: p.spec, 'zeta/|mu|': zeta, strategy: name, cos: dot / (norm * l2Norm(mu)), '|step|/|mu|': norm / l2Norm(mu), 'one-step acc': await accuracyOf(step) });
        }
      }
    }
    previous = all;
    w = applyDelta(w, all);
  }
  printTable(rows);
  console.log(`wrote ${await writeResults('robustness-probe', { task, rows })}`);
}
