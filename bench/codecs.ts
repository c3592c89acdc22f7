/**
 * Every codec on the same federated task: 20 devices, McMahan's pathological non-IID split
 * (shards:2), the 2NN, a fixed seed and a fixed number of rounds. Each codec's simulation
 * runs as its own `fedmq simulate` process (see grid.ts: parallel and resumable).
 * Usage: npm run build && node dist/bench/codecs.js [--rounds 80] [--jobs 2] [--codecs a,b] [--fresh]
 */
import os from 'node:os';
import path from 'node:path';
import { Rng, builtinTask, parseCodec, taskLayout, type BuiltinTaskName } from '../protocol/index.js';
import type { RunReport } from '../simulator/index.js';
import { runGrid, roundsTo } from './grid.js';
import { codecsTask } from './tasks.js';
import { median, realisticDelta } from './measure.js';
import { flag, printTable, writeResults } from './table.js';

const DEFAULT_CODECS = [
  'f32', 'f16', 'int8', 'int4', 'ternary', 'int8+deflate', 'topk:0.01+int8', 'topk:0.01+int8+ef', 'topk:0.001+ternary+ef',
];
const task = codecsTask();
const codecs = flag('codecs', DEFAULT_CODECS.join(',')).split(',');
const jobs = Number(flag('jobs', String(os.cpus().length)));

console.log(`codecs: ${Object.entries(task).map(([k, v]) => `${k}=${v}`).join(' ')}, ${jobs} at a time`);
const reports = await runGrid(
  path.join('bench', 'results', 'codecs'),
  codecs.map((codec) => ({ name: codec, flags: { ...task, codec } })),
  jobs,
  process.argv.includes('--fresh'),
);

const delta = realisticDelta(taskLayout(builtinTask(task.model as BuiltinTaskName)).paramCount, 7);
const f32 = reports.get('f32');
const updates = (r: RunReport): number => r.rounds.reduce((s, x) => s + x.accepted, 0);
const bytesPerUpdate = (r: RunReport): number => r.final.bytesUpTotal / updates(r);
const rows = codecs.map((spec) => {
  const report = reports.get(spec)!;
  const codec = parseCodec(spec);
  const rng = new Rng(1);
  return {
    codec: spec,
    'bytes/update': Math.round(bytesPerUpdate(report)),
    'x smaller': f32 ? bytesPerUpdate(f32) / bytesPerUpdate(report) : 0,
    'final acc': report.final.accuracy,
    'vs f32 (pt)': f32 ? 100 * (report.final.accuracy - f32.final.accuracy) : 0,
    'rounds to 95%': roundsTo(report, 0.95),
    'rounds to 97%': roundsTo(report, 0.97),
    'encode ms': median(15, () => codec.encode(delta, rng)),
    'decode+agg ms': report.rounds.reduce((s, x) => s + x.aggregateMs, 0) / updates(report),
  };
});
printTable(rows);
console.log('\nbytes/update: update payloads really published (CBOR envelope included); decode+agg: aggregator time per accepted update;');
console.log('encode: one 2nn-sized delta on this machine (error feedback adds its decode).');
const out = await writeResults('codecs', { task, rows }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
