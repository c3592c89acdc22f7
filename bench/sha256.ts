/**
 * SHA-256 of a global's bytes (what `protocol/downlink.ts` checks on every global a device
 * receives and the aggregator computes on every global it publishes): node:crypto's
 * createHash against @noble/hashes' pure-JS sha256, on the f32 weights of the three models
 * (mlp 101,770, 2nn 199,210 and cnn 1,663,370 parameters: 407 KB, 797 KB and 6.65 MB).
 * Both digests are checked equal. Decides whether protocol/ can hash without node:crypto.
 * Usage: npm run build && node dist/bench/sha256.js [--runs 25] [--out FILE]
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { median, realisticDelta } from './measure.js';
import { flag, printTable, writeResults } from './table.js';

const MODELS = [
  { model: 'mlp', params: 101_770 },
  { model: '2nn', params: 199_210 },
  { model: 'cnn', params: 1_663_370 },
];
const SEED = 7;
const runs = Number(flag('runs', '25'));

console.log(`sha256: node:crypto vs @noble/hashes, median of ${runs} runs, node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0]!.toFixed(1)}`);
const rows: Record<string, string | number>[] = [];
for (const { model, params } of MODELS) {
  const weights = realisticDelta(params, SEED);
  const bytes = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  const node = (): string => createHash('sha256').update(bytes).digest('hex');
  const noble = (): string => bytesToHex(sha256(bytes));
  if (node() !== noble()) throw new Error(`digests differ for ${model}`);
  const nodeMs = median(runs, node);
  const nobleMs = median(runs, noble);
  rows.push({
    model,
    bytes: bytes.byteLength,
    'node:crypto ms': nodeMs,
    'noble ms': nobleMs,
    'noble / node': nobleMs / nodeMs,
    'node MB/s': bytes.byteLength / 1e6 / (nodeMs / 1e3),
    'noble MB/s': bytes.byteLength / 1e6 / (nobleMs / 1e3),
  });
}
printTable(rows);

const worst = Math.max(...rows.map((r) => r['noble / node'] as number));
console.log(`\nnoble is at most ${worst.toFixed(1)}x slower than node:crypto on these sizes (limit for protocol/: ~3x)`);

const out = await writeResults(
  'sha256',
  { seed: SEED, runs, environment: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg1: os.loadavg()[0] }, limitRatio: 3, rows },
  flag('out', '') || undefined,
);
console.log(`wrote ${out}`);
