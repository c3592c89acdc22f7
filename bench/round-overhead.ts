/**
 * Share of round wall time spent outside local training (transfer, encode/decode,
 * aggregation, evaluation) for the default simulation at 10 devices.
 * Usage: npm run build && node dist/bench/round-overhead.js [--rounds 5] [--devices 10] [--out FILE]
 */
import { Simulation } from '../simulator/index.js';
import { flag, printTable, writeResults } from './table.js';

const devices = Number(flag('devices', '10'));
const rounds = Number(flag('rounds', '5'));
// Training on the main thread, one device after another: the sum of training times is then
// a part of the wall time, and the rest is the protocol's overhead.
const simulation = new Simulation({ devices, rounds, workers: 0 });
console.log(`round-overhead: ${devices} devices, ${rounds} rounds, defaults otherwise (mlp, iid, E=1, B=20, ${simulation.options.codec})`);
const report = await simulation.run();

// In one process the devices train one after another, so training time is their sum.
const rows: Record<string, string | number>[] = report.rounds.map((r) => {
  const outside = r.wallMs - r.trainMs;
  return {
    round: r.round,
    'wall ms': r.wallMs,
    'train ms': r.trainMs,
    'aggregate ms': r.aggregateMs,
    'eval ms': r.evalMs,
    'other ms': outside - r.aggregateMs - r.evalMs,
    'outside training %': (100 * outside) / r.wallMs,
  };
});
const sum = (k: 'wallMs' | 'trainMs' | 'aggregateMs' | 'evalMs'): number => report.rounds.reduce((s, r) => s + r[k], 0);
const share = (100 * (sum('wallMs') - sum('trainMs'))) / sum('wallMs');
rows.push({
  round: 'all',
  'wall ms': sum('wallMs'),
  'train ms': sum('trainMs'),
  'aggregate ms': sum('aggregateMs'),
  'eval ms': sum('evalMs'),
  'other ms': sum('wallMs') - sum('trainMs') - sum('aggregateMs') - sum('evalMs'),
  'outside training %': share,
});
printTable(rows);
console.log(`\nshare of round wall time outside local training: ${share.toFixed(1)}% (target <= 10%), backend ${report.environment.backend}`);
const out = await writeResults('round-overhead', { devices, rounds, sharePercent: share, targetPercent: 10, rows, report }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
