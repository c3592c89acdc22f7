/**
 * Every codec on the same federated task: 20 devices, McMahan's pathological non-IID split
 * (shards:2), the 2NN, a fixed seed and a fixed number of rounds. Each codec's simulation
 * runs as its own `fedmq simulate` process (as many at once as --jobs), writing its run
 * report to bench/results/codecs/; a report already there for the same settings is reused,
 * so an interrupted bench resumes.
 * Usage: npm run build && node dist/bench/codecs.js [--rounds 80] [--jobs 2] [--codecs a,b] [--fresh]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, parseCodec } from '../protocol/index.js';
import { modelInfo } from '../learning/index.js';
import type { RunReport } from '../simulator/index.js';
import { median, realisticDelta } from './measure.js';
import { flag, printTable, writeResults } from './table.js';

const DEFAULT_CODECS = [
  'f32', 'f16', 'int8', 'int4', 'ternary', 'topk:0.01+int8', 'topk:0.01+int8+ef', 'topk:0.001+ternary+ef',
];
const task = {
  devices: flag('devices', '20'),
  rounds: flag('rounds', '80'),
  partition: flag('partition', 'shards:2'),
  model: flag('model', '2nn'),
  lr: flag('lr', '0.1'),
  'batch-size': flag('batch-size', '20'),
  epochs: flag('epochs', '1'),
  seed: flag('seed', '1'),
};
const codecs = flag('codecs', DEFAULT_CODECS.join(',')).split(',');
const jobs = Number(flag('jobs', String(os.cpus().length)));
const fresh = process.argv.includes('--fresh');
const dir = path.join('bench', 'results', 'codecs');
const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));

const fileOf = (spec: string): string => path.join(dir, `${spec.replace(/[^A-Za-z0-9.]+/g, '_')}.json`);

/** A saved report counts only if it was made with these very settings. */
function saved(spec: string): RunReport | null {
  const file = fileOf(spec);
  if (fresh || !existsSync(file)) return null;
  const report = JSON.parse(readFileSync(file, 'utf8')) as RunReport;
  const c = report.config;
  const same = c.codec === parseCodec(spec).spec && c.devices === Number(task.devices) && c.rounds === Number(task.rounds) &&
    c.partition === task.partition && c.model === task.model && c.lr === Number(task.lr) && c.seed === Number(task.seed) &&
    c.batchSize === Number(task['batch-size']) && c.epochs === Number(task.epochs);
  return same ? report : null;
}

function simulate(spec: string): Promise<void> {
  const args = [cli, 'simulate', ...Object.entries(task).flatMap(([k, v]) => [`--${k}`, v]), '--codec', spec, '--report', fileOf(spec)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (/^round\s+\d+\/|^done/.test(line)) console.log(`[${spec}] ${line}`);
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${spec}: simulate exited with ${code}`))));
  });
}

await mkdir(dir, { recursive: true });
console.log(`codecs: ${Object.entries(task).map(([k, v]) => `${k}=${v}`).join(' ')}, ${jobs} at a time`);
const todo = codecs.filter((spec) => saved(spec) === null);
if (todo.length < codecs.length) console.log(`reusing saved reports for: ${codecs.filter((s) => !todo.includes(s)).join(', ')}`);
const queue = [...todo];
await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
  for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) await simulate(spec);
}));

const params = modelInfo(task.model as '2nn').paramCount;
const delta = realisticDelta(params, 7);
const roundsTo = (r: RunReport, target: number): number | string => r.rounds.find((x) => x.accuracy >= target)?.round ?? `>${r.rounds.length}`;
const reports = codecs.map((spec) => ({ spec, report: saved(spec)! }));
const f32 = reports.find((r) => r.spec === 'f32')?.report;
const bytesPerUpdate = (r: RunReport): number => r.final.bytesUpTotal / r.rounds.reduce((s, x) => s + x.accepted, 0);
const rows = reports.map(({ spec, report }) => {
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
    'decode+agg ms': report.rounds.reduce((s, x) => s + x.aggregateMs, 0) / report.rounds.reduce((s, x) => s + x.accepted, 0),
  };
});
printTable(rows);
console.log('\nbytes/update: update payloads really published (CBOR envelope included); decode+agg: aggregator time per accepted update;');
console.log('encode: one 2nn-sized delta on this machine (error feedback adds its decode).');
const out = await writeResults('codecs', { task, rows }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
