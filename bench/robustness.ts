/**
 * Strategy x attack: final accuracy after a fixed number of rounds on MNIST, 2NN, shards:2,
 * 20 devices, fixed seed; then rounds to 95% for FedAvg and the server optimizers on the
 * same non-IID task without attackers.
 * Usage: npm run build && node dist/bench/robustness.js [--rounds 15] [--speed-rounds 60] [--jobs 2] [--fresh]
 */
import os from 'node:os';
import path from 'node:path';
import { runGrid, roundsTo, type GridRun } from './grid.js';
import { flag, printTable, writeResults } from './table.js';

const task = {
  devices: flag('devices', '20'), partition: 'shards:2', model: '2nn', lr: flag('lr', '0.1'),
  'batch-size': '20', epochs: '1', seed: flag('seed', '1'), codec: 'f32',
};
const rounds = flag('rounds', '15');
const speedRounds = flag('speed-rounds', '60');
const strategies = flag('strategies', 'fedavg,median,trimmed-mean:0.2,multikrum:4,normbound:2+fedavg,bucket:2+median,bucket:2+trimmed-mean:0.2').split(',');
const attacks = flag('attacks', 'clean,signflip:0.2,scale:0.2:10,labelflip:0.2,noise:0.2').split(',');
const speedStrategies = flag('speed-strategies', 'fedavg,fedavgm,fedadam').split(',');
const jobs = Number(flag('jobs', String(os.cpus().length)));
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
const reports = await runGrid(path.join('bench', 'results', 'robustness'), [...grid, ...speed], jobs, fresh);

const clean = reports.get(`fedavg clean`)!.final.accuracy;
const table = strategies.map((strategy) => ({
  strategy,
  ...Object.fromEntries(attacks.map((attack) => [attack, reports.get(`${strategy} ${attack}`)!.final.accuracy])),
}));
printTable(table);
console.log(`\nfinal accuracy after ${rounds} rounds; clean FedAvg ${clean.toFixed(4)}\n`);
const speedRows = speedStrategies.map((strategy) => {
  const r = reports.get(`speed ${strategy}`)!;
  return { strategy, 'rounds to 90%': roundsTo(r, 0.9), 'rounds to 95%': roundsTo(r, 0.95), 'last acc': r.final.accuracy };
});
printTable(speedRows);
const out = await writeResults('robustness', { task, rounds, table, speed: speedRows }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
