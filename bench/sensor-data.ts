/**
 * Device data loading at scale: writes a synthetic fleet log (interleaved devices, time,
 * 4 sensor columns, a text label) of --rows readings, then loads it through `loadDeviceData`
 * with `groupBy` and windows, and prints readings per second and the memory it took against
 * the size of the parsed values. Shows that loading memory follows the parsed values (a few
 * times their size while arrays grow and readings are regrouped), not the file's text, and
 * that windows cost a 4-byte index each, not a copy.
 * Usage: npm run build && node --expose-gc dist/bench/sensor-data.js [--rows 1000000] [--devices 20] [--window 32]
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDeviceData, parseDeviceDataOptions, splitByGroup } from '../datasets/index.js';
import { Rng } from '../protocol/random.js';
import { flag, printTable } from './table.js';

const rows = Number(flag('rows', '1000000'));
const devices = Number(flag('devices', '20'));
const window = Number(flag('window', '32'));
const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

const dir = await mkdtemp(join(tmpdir(), 'fedmq-sensor-bench-'));
const path = join(dir, 'fleet.csv');
const out = createWriteStream(path);
out.write('device,time,temperature,humidity,pressure,motion,label\n');
const rng = new Rng(1);
const LABELS = ['idle', 'cooking', 'away'];
for (let i = 0; i < rows; i++) {
  const line = `d${i % devices},${Math.floor(i / devices)},${(20 + rng.normal()).toFixed(2)},${(45 + 5 * rng.normal()).toFixed(1)},${(1013 + rng.normal()).toFixed(1)},${rng.int(2)},${LABELS[rng.int(3)]}\n`;
  if (!out.write(line)) await once(out, 'drain');
}
out.end();
await once(out, 'finish');
const fileSize = (await stat(path)).size;

function heapMb(): number {
  gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return (heapUsed + arrayBuffers) / MB;
}

const table: Record<string, string | number>[] = [];
for (const w of [1, window]) {
  const before = heapMb();
  let peak = before;
  const timer = setInterval(() => {
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    peak = Math.max(peak, (heapUsed + arrayBuffers) / MB);
  }, 5);
  const start = performance.now();
  const config = parseDeviceDataOptions({ groupBy: 'device', time: 'time', window: w, stride: 1 });
  const data = await loadDeviceData(path, config);
  const seconds = (performance.now() - start) / 1000;
  clearInterval(timer);
  const fleet = splitByGroup(data);
  const dataBytes = data.readings.byteLength + data.readingTargets.byteLength + data.starts.byteLength + data.targets.byteLength;
  table.push({
    window: w,
    readings: data.readingCount,
    examples: data.count,
    devices: fleet.length,
    'readings/s': Math.round(data.readingCount / seconds),
    'values MB': +((data.readings.byteLength) / MB).toFixed(1),
    'DeviceData MB': +(dataBytes / MB).toFixed(1),
    'file MB': +(fileSize / MB).toFixed(1),
    'peak above start MB': +(peak - before).toFixed(1),
  });
}
console.log(`sensor-data: ${rows} readings, ${devices} devices, file ${(fileSize / MB).toFixed(1)} MB${gc === undefined ? ' (run with --expose-gc for steady memory figures)' : ''}`);
printTable(table);
await rm(dir, { recursive: true, force: true });
