/**
 * Heap over a long default simulation: tensors must be disposed and buffers released, so
 * the heap after round 5 should not grow by more than 10% over the rest of the run.
 * Usage: npm run build && node --expose-gc dist/bench/memory.js [--rounds 50] [--devices 10] [--out FILE]
 */
import { Simulation } from '../simulator/index.js';
import { tensorCount } from '../learning/index.js';
import { flag, printTable, writeResults } from './table.js';

const devices = Number(flag('devices', '10'));
const rounds = Number(flag('rounds', '50'));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.log('note: run with node --expose-gc for a steadier heap reading');

const samples: { round: number; heapMb: number; rssMb: number; tensors: number; accuracy: number }[] = [];
// Training on the main thread, so its tensors and buffers are in the heap measured here.
const simulation = new Simulation({ devices, rounds, workers: 0 });
simulation.on('roundClosed', (r) => {
  gc?.();
  const m = process.memoryUsage();
  samples.push({ round: r.round, heapMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20, tensors: tensorCount(), accuracy: r.accuracy });
  if (r.round % 5 === 0) console.log(`round ${r.round}: heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MB, rss ${(m.rss / 2 ** 20).toFixed(0)} MB, tensors ${tensorCount()}`);
});
console.log(`memory: ${devices} devices, ${rounds} rounds, default simulation`);
await simulation.run();

const base = samples.find((s) => s.round === 5) ?? samples[0]!;
const after = samples.filter((s) => s.round > base.round);
const peak = Math.max(...after.map((s) => s.heapMb));
const last = samples[samples.length - 1]!;
const growth = (100 * (last.heapMb - base.heapMb)) / base.heapMb;
const peakGrowth = (100 * (peak - base.heapMb)) / base.heapMb;
printTable(samples.filter((s) => s.round % 5 === 0 || s.round === 1).map((s) => ({ round: s.round, 'heap MB': s.heapMb, 'rss MB': s.rssMb, tensors: s.tensors, accuracy: s.accuracy })));
console.log(`\nheap growth from round ${base.round} to ${last.round}: ${growth.toFixed(1)}% (peak ${peakGrowth.toFixed(1)}%; target < 10%); tensors ${base.tensors} -> ${last.tensors}`);
const out = await writeResults('memory', { devices, rounds, baseRound: base.round, growthPercent: growth, peakGrowthPercent: peakGrowth, samples }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
