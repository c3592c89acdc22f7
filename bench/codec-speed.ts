/**
 * Size and speed of every update codec on a realistic 200K-parameter delta (the mlp's
 * 199,210 values: Gaussian with a heavier-tailed 3%, fixed seed): bytes, ratio to f32,
 * encode ms and decode+accumulate ms (medians), relative error ||decode - x|| / ||x||; then
 * top-k selection on 1.7M values against sorting.
 * Usage: npm run build && node dist/bench/codec-speed.js [--runs 25] [--out FILE]
 */
import os from 'node:os';
import { ErrorFeedback, Rng, parseCodec, topKIndices } from '../protocol/index.js';
import { median, realisticDelta } from './measure.js';
import { flag, printTable, writeResults } from './table.js';

const N = 199_210;
const BIG_N = 1_700_000;
const SEED = 7;
const runs = Number(flag('runs', '25'));

const SPECS = [
  'f32',
  'f16',
  'int8',
  'int4',
  'ternary',
  'topk:0.1+int8',
  'topk:0.01+f32',
  'topk:0.01+f16',
  'topk:0.01+int8',
  'topk:0.01+int4',
  'topk:0.01+ternary',
  'topk:0.001+ternary',
  'topk:0.01+int8+ef',
  'f16+deflate',
  'int8+deflate',
  'int4+deflate',
  'ternary+deflate',
  'topk:0.01+int8+deflate',
  'topk:0.001+ternary+deflate',
];

const x = realisticDelta(N, SEED);
let xNorm = 0;
for (let i = 0; i < N; i++) xNorm += x[i]! * x[i]!;
xNorm = Math.sqrt(xNorm);
const f32Bytes = parseCodec('f32').encode(x, new Rng(SEED)).byteLength;

console.log(`codec-speed: ${N} values, seed ${SEED}, median of ${runs} runs, node ${process.version}, ${os.cpus().length} cpus`);
const rows: Record<string, string | number>[] = [];
for (const spec of SPECS) {
  const codec = parseCodec(spec);
  // A +ef codec is encoded the way the device does it: through its error-feedback state.
  const feedback = codec.errorFeedback ? new ErrorFeedback(N) : null;
  const encode = (): Uint8Array => (feedback ? feedback.encode(codec, x, new Rng(SEED)) : codec.encode(x, new Rng(SEED)));
  const bytes = encode();
  const target = new Float64Array(N);
  const y = codec.decode(bytes, N);
  let err = 0;
  for (let i = 0; i < N; i++) err += (y[i]! - x[i]!) ** 2;
  rows.push({
    spec,
    bytes: bytes.byteLength,
    'x smaller': f32Bytes / bytes.byteLength,
    'encode ms': median(runs, encode),
    'decode+accumulate ms': median(Math.max(runs, 100), () => codec.accumulate(bytes, N, target, 1)),
    'rel. error': Math.sqrt(err) / xNorm,
  });
}
printTable(rows);

const int8Ms = rows.find((r) => r.spec === 'int8')!['decode+accumulate ms'] as number;
console.log(`\nint8 decode+accumulate of ${N} values: ${int8Ms.toFixed(3)} ms (target <= 1 ms)`);

// Top-k selection at the largest model size: radix select against sorting all magnitudes.
const big = realisticDelta(BIG_N, SEED + 1);
const k = Math.ceil(0.01 * BIG_N);
const selectMs = median(Math.min(runs, 15), () => topKIndices(big, k));
const sortMs = median(3, () => {
  const magnitudes = new Float32Array(BIG_N);
  for (let i = 0; i < BIG_N; i++) magnitudes[i] = Math.abs(big[i]!);
  magnitudes.sort();
});
const selection = [
  { method: 'radix select (topKIndices)', values: BIG_N, k, ms: selectMs },
  { method: 'sort |x| (threshold only)', values: BIG_N, k, ms: sortMs },
];
console.log('');
printTable(selection);
console.log(`\ntop-k of ${BIG_N}: radix select is ${(sortMs / selectMs).toFixed(1)}x faster than sorting`);

const out = await writeResults(
  'codec-speed',
  { n: N, seed: SEED, runs, environment: { node: process.version, cpus: os.cpus().length }, int8TargetMs: 1, rows, selection },
  flag('out', '') || undefined,
);
console.log(`wrote ${out}`);
