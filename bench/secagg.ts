/**
 * Secure aggregation's cost per round (SecAgg+, privacy/secagg) on fedmq's 2NN (199,210
 * parameters): for 10, 50, 100 and 500 devices, with 0% and 30% of them dropping after sharing
 * their secrets (their masked inputs never arrive): the neighbours k and threshold t chosen,
 * bytes per device beyond the plain 32-bit quantized update (CBOR-encoded as fedmq's wire does),
 * each device's protocol CPU ms (process CPU time, not wall time: the machine may be busy) (key pairs, Shamir shares and their encryption, the masks,
 * the unmask answer: the quantization itself excluded) and the aggregator's CPU ms, beside the
 * plain sum of the same vectors (median of 3). Every round's unmasked sum is checked against the plain sum.
 *
 * Bonawitz et al. 2017 report a 1.73x communication expansion at 2^10 users and 2^20-entry
 * vectors: everything a user sends and receives, over its 16-bit input sent in the clear. Most of
 * it is the masked vector's wider ring (16 + log2 n = 26 bits, so the sum cannot wrap); the rest
 * is the O(n) keys and shares of the complete graph. The 'vs 16-bit' column is that measure here
 * (fedmq's ring is always 32 bits); 'vs int32' is the cost over the same 32-bit update unmasked.
 * Usage: npx tsc -p tsconfig.build.json && node dist/bench/secagg.js [--sizes 10,50,100,500] [--out FILE]
 */
import os from 'node:os';
import { Encoder } from 'cbor-x';
import {
  quantizeForSecAgg,
  runSecAggRound,
  secaggQuantizer,
  type SecAggDeviceMessage,
  type SecAggServerMessage,
} from '../privacy/index.js';
import { builtinTask, parseCodec, Rng, taskParamCount } from '../protocol/index.js';
import { realisticDelta } from './measure.js';
import { flag, printTable, writeResults } from './table.js';

const M = taskParamCount(builtinTask('2nn'));
const SIZES = flag('sizes', '10,50,100,500').split(',').map(Number);
const DROPOUT = 0.3;
const CLIP = 0.05;
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true }); // as protocol/wire.ts
const DEVICE_TYPES = new Set(['secagg-keys', 'secagg-shares', 'secagg-masked', 'secagg-unmask-response']);

/** Median process CPU ms (user + system) of `fn`, as runSecAggRound times the parties. */
function medianCpuMs(count: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.cpuUsage();
    fn();
    const d = process.cpuUsage(start);
    times.push((d.user + d.system) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(count / 2)]!;
}

interface Run {
  n: number; dropout: number; k: number; t: number;
  upExtra: number; downExtra: number; maskedBytes: number;
  deviceMs: number; deviceMsMax: number; serverMs: number; plainSumMs: number; exact: boolean;
}

async function measure(n: number, dropout: number): Promise<Run> {
  const ids = Array.from({ length: n }, (_, i) => `device-${String(i).padStart(3, '0')}`);
  const dropped = new Set(ids.filter((_, i) => i % Math.round(1 / DROPOUT) === 0).slice(0, Math.floor(n * dropout)));
  const q = secaggQuantizer(CLIP, n);
  const inputs: Uint32Array[] = [];
  const input = (id: string): Uint32Array => {
    const rng = new Rng(ids.indexOf(id) + 1);
    const v = quantizeForSecAgg(realisticDelta(M, ids.indexOf(id) + 1), q, () => rng.next());
    inputs.push(v);
    return v;
  };
  const up = new Map<string, number>();
  const down = new Map<string, number>();
  let maskedBytes = 0;
  const carry = <Msg extends SecAggDeviceMessage | SecAggServerMessage>(msg: Msg): Msg => {
    const bytes = new Uint8Array(cbor.encode(msg));
    if (msg.type === 'secagg-masked') maskedBytes = bytes.length;
    else if (DEVICE_TYPES.has(msg.type)) up.set(msg.id, (up.get(msg.id) ?? 0) + bytes.length);
    else down.set(msg.id, (down.get(msg.id) ?? 0) + bytes.length);
    return cbor.decode(bytes) as Msg;
  };
  const run = await runSecAggRound({ ids, vectorLength: M, input, dropBeforeMasked: dropped, carry });

  let plain = new Uint32Array(M);
  const plainSumMs = medianCpuMs(3, () => {
    plain = new Uint32Array(M);
    for (const v of inputs) for (let i = 0; i < M; i++) plain[i] = plain[i]! + v[i]!;
  });
  let exact = run.result.sum.length === M;
  for (let i = 0; i < M && exact; i++) exact = run.result.sum[i] === plain[i];

  // Per surviving device (a dropout sends less): bytes beyond its masked vector, both ways.
  const survivors = ids.filter((id) => !dropped.has(id));
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ms = survivors.map((id) => run.deviceMs.get(id)!);
  return {
    n, dropout, k: run.result.params.k, t: run.result.params.t,
    upExtra: mean(survivors.map((id) => up.get(id) ?? 0)), downExtra: mean(survivors.map((id) => down.get(id) ?? 0)),
    maskedBytes, deviceMs: mean(ms), deviceMsMax: Math.max(...ms), serverMs: run.serverMs, plainSumMs, exact,
  };
}

console.log(`secagg: SecAgg+ on the 2NN (${M} parameters), ${DROPOUT * 100}% dropout after sharing, node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? '?'})`);
const runs: Run[] = [];
for (const n of SIZES) {
  for (const dropout of [0, DROPOUT]) {
    const r = await measure(n, dropout);
    if (!r.exact) throw new Error(`n=${n} dropout=${dropout}: the unmasked sum differs from the plain sum`);
    runs.push(r);
  }
}

// The same vector unmasked, as a fedmq-style message: the masked one's size (same shape, same 4 bytes a word).
const plainBytes = (r: Run): number => r.maskedBytes;
const rows = SIZES.map((n) => {
  const r0 = runs.find((r) => r.n === n && r.dropout === 0)!;
  const r3 = runs.find((r) => r.n === n && r.dropout === DROPOUT)!;
  const extra = r0.upExtra + r0.downExtra;
  return {
    devices: n,
    'k (neighbours)': r0.k,
    t: r0.t,
    'extra up B/device': Math.round(r0.upExtra),
    'extra down B/device': Math.round(r0.downExtra),
    'vs int32': (plainBytes(r0) + extra) / plainBytes(r0),
    'vs 16-bit': (r0.maskedBytes + extra) / (2 * M),
    'device ms': r0.deviceMs,
    'aggregator ms (0%)': r0.serverMs,
    'aggregator ms (30%)': r3.serverMs,
    'plain sum ms': r0.plainSumMs,
  };
});
printTable(rows);
const int8Bytes = parseCodec('int8').encode(realisticDelta(M, 1), new Rng(1)).byteLength;
const topkBytes = parseCodec('topk:0.01+int8').encode(realisticDelta(M, 1), new Rng(1)).byteLength;
console.log(`\nmasked update: ${runs[0]!.maskedBytes} B (CBOR); for comparison, unmasked codecs: int8 ${int8Bytes} B, topk:0.01+int8 ${topkBytes} B (top-k does not survive masking).`);
console.log('Bonawitz et al. 2017: 1.73x at 2^10 users, 2^20 entries, 16-bit inputs (everything a user sends and receives over its input in the clear).');
console.log(`every unmasked sum equals the plain Z_2^32 sum of the quantized updates: ${runs.every((r) => r.exact) ? 'yes' : 'NO'}`);
const out = await writeResults('secagg', {
  parameters: M, dropout: DROPOUT, clip: CLIP, node: process.version, cpus: os.cpus().length,
  bonawitz2017: { users: 1024, entries: 2 ** 20, inputBits: 16, expansion: 1.73 },
  codecBytes: { int8: int8Bytes, 'topk:0.01+int8': topkBytes },
  rows, runs,
}, flag('out', '') || undefined);
console.log(`\nwrote ${out}`);
