/**
 * Sync rounds vs async FedBuff on a mixed Raspberry Pi fleet: simulated wall-clock time until
 * the global reaches the target accuracy. Both modes run the same fleet, data, model and seed;
 * training time per example is fixed (`--ms-per-example`, measured on this machine) so that
 * simulated time, and with it async mode's order of arrivals, is reproducible.
 * Usage: npm run build && node dist/bench/async.js [--target 0.95] [--devices 100] [--jobs 2] [--fresh]
 */
import os from 'node:os';
import path from 'node:path';
import type { RunReport } from '../simulator/index.js';
import { runGrid, type GridRun } from './grid.js';
import { flag, printTable, writeResults } from './table.js';

const target = Number(flag('target', '0.95'));
// McMahan et al.'s MNIST 2NN setup (100 devices of 600 examples, C = 0.1, E = 1, B = 10) on Pis.
const fleet = {
  devices: flag('devices', '100'), partition: flag('partition', 'iid'), model: '2nn', lr: '0.1', 'batch-size': '10', epochs: '1',
  fraction: '0.1', seed: flag('seed', '1'), profiles: flag('profiles', 'pi-zero-2:0.3,pi-4:0.5,pi-5:0.2'),
  // 2NN, B = 10, wasm on this machine: 0.10-0.15 ms per example; a Pi 5 is taken as equal (simulator/profiles.ts).
  'ms-per-example': flag('ms-per-example', '0.1'),
  // About 3x the slowest device's round (a Pi Zero 2 W: 0.5 s training + 1 s moving float32 weights).
  'round-timeout': flag('round-timeout', '5'),
  'target-accuracy': String(target),
  // Made before the step downlink became the default: the float32 global down.
  downlink: flag('downlink', 'f32'),
};
const jobs = Number(flag('jobs', String(Math.min(2, os.cpus().length))));
const fresh = process.argv.includes('--fresh');

const runs: GridRun[] = [
  { name: 'sync f32', flags: { ...fleet, codec: 'f32', rounds: flag('rounds', '100') } },
  { name: 'async K=5 f32', flags: { ...fleet, codec: 'f32', mode: 'async', buffer: '5', rounds: flag('globals', '300') } },
  { name: 'async K=10 f32', flags: { ...fleet, codec: 'f32', mode: 'async', buffer: '10', rounds: flag('globals', '300') } },
  { name: 'sync topk:0.01+int8+ef', flags: { ...fleet, codec: 'topk:0.01+int8+ef', rounds: flag('rounds', '100') } },
  { name: 'async K=5 topk:0.01+int8+ef', flags: { ...fleet, codec: 'topk:0.01+int8+ef', mode: 'async', buffer: '5', rounds: flag('globals', '300') } },
];
console.log(`async: ${Object.entries(fleet).map(([k, v]) => `${k}=${v}`).join(' ')}; ${jobs} at a time`);
const reports = await runGrid(path.join('bench', 'results', 'async'), runs, jobs, fresh);

/** Simulated time, updates and globals until the first global at `target`. */
function toTarget(r: RunReport): { reached: boolean; simS: number; globals: number; updates: number } {
  let simMs = 0;
  let updates = 0;
  for (const round of r.rounds) {
    simMs += round.simMs ?? 0;
    updates += round.accepted;
    if (round.accuracy >= target) return { reached: true, simS: simMs / 1000, globals: round.round, updates };
  }
  return { reached: false, simS: simMs / 1000, globals: r.rounds.length, updates };
}

const rows = runs.map((run) => {
  const r = reports.get(run.name)!;
  const t = toTarget(r);
  const sync = toTarget(reports.get(run.name.startsWith('async') ? `sync ${run.flags.codec}` : run.name)!);
  const dropped = r.rounds.reduce((s, x) => s + (x.dropped ?? 0), 0);
  const stale = r.rounds.flatMap((x) => (x.staleness ? [x.staleness.mean] : []));
  return {
    run: run.name,
    [`globals to ${target}`]: t.reached ? t.globals : `>${t.globals}`,
    'updates used': t.updates,
    [`simulated s to ${target}`]: t.reached ? Math.round(t.simS * 10) / 10 : `>${t.simS.toFixed(1)}`,
    'speed-up vs sync': t.reached && sync.reached ? Math.round((sync.simS / t.simS) * 100) / 100 : '-',
    'mean staleness': stale.length > 0 ? Math.round((stale.reduce((a, b) => a + b, 0) / stale.length) * 100) / 100 : 0,
    'dropped out': dropped,
    'wall s': Math.round(r.final.wallMs / 100) / 10,
  };
});
printTable(rows);
const out = await writeResults('async', { fleet, target, rows }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
