/**
 * Every downlink on the codecs bench's task (20 devices, shards:2, 2NN, fixed seed and rounds)
 * with the default uplink codec: what each costs in bytes sent to devices and in accuracy.
 * Each run is its own `fedmq simulate` process (see grid.ts: parallel and resumable).
 * Usage: npm run build && node dist/bench/downlink.js [--rounds 80] [--jobs 1] [--downlinks a,b] [--fresh]
 */
import path from 'node:path';
import type { RunReport } from '../simulator/index.js';
import { runGrid, roundsTo } from './grid.js';
import { codecsTask } from './tasks.js';
import { flag, printTable, writeResults } from './table.js';

const DEFAULT_DOWNLINKS = ['f32', 'f16', 'delta:f16', 'delta:int8', 'delta:int4'];
// The uplink of the committed table: the default before issue 14.
const task = { ...codecsTask(), codec: flag('codec', 'topk:0.01+int8+ef') };
const downlinks = flag('downlinks', DEFAULT_DOWNLINKS.join(',')).split(',');
// Each simulation already trains on every core.
const jobs = Number(flag('jobs', '1'));

console.log(`downlink: ${Object.entries(task).map(([k, v]) => `${k}=${v}`).join(' ')}, ${jobs} at a time`);
const reports = await runGrid(
  path.join('bench', 'results', 'downlink'),
  downlinks.map((downlink) => ({ name: downlink, flags: { ...task, downlink } })),
  jobs,
  process.argv.includes('--fresh'),
);

const down = (r: RunReport): number => r.rounds.reduce((s, x) => s + x.bytesDown, 0);
const up = (r: RunReport): number => r.final.bytesUpTotal;
const f32 = reports.get('f32');
const rows = downlinks.map((spec) => {
  const r = reports.get(spec)!;
  return {
    downlink: spec,
    'down/round/device': Math.round(down(r) / r.rounds.reduce((s, x) => s + x.participants, 0)),
    'x smaller': f32 ? down(f32) / down(r) : 0,
    'down total MB': down(r) / 2 ** 20,
    'up total MB': up(r) / 2 ** 20,
    'final acc': r.final.accuracy,
    'vs f32 (pt)': f32 ? 100 * (r.final.accuracy - f32.final.accuracy) : 0,
    'rounds to 95%': roundsTo(r, 0.95),
  };
});
printTable(rows);
console.log('\ndown: the global (or its delta) and the round message, per participant, as the coordinator counts them;');
console.log('a device that missed a version catches up by the steps it missed, or the full copy (not in this task: all devices train every round).');
const out = await writeResults('downlink', { task, rows }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
