import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Resources } from '../protocol/index.js';

/** Where resources are read from; tests fake `/sys` and `/proc` under a temporary `root`. */
export interface ResourceReaderOptions {
  /** The file system root `sys/class/...` and `proc/meminfo` are read under. @default '/' */
  root?: string;
  /** @default os.loadavg */
  loadavg?: () => number[];
  /** @default os.availableParallelism */
  cpus?: () => number;
  /** Bytes free, when `proc/meminfo` has no `MemAvailable`. @default os.freemem */
  freemem?: () => number;
}

/** What a status may carry (protocol/wire.ts bounds it on decode: a value out of range would get the whole status refused). */
const BOUNDS = { batteryPercent: [0, 100], cpuTempC: [-100, 250], load: [0, 1e6], freeMemMb: [0, 1e9] } as const;

/** Battery states that mean the device is on external power. */
const ON_POWER = new Set(['charging', 'full', 'not charging']);

/** A thermal zone that measures the CPU or the SoC (Raspberry Pi `cpu-thermal`, x86 `x86_pkg_temp`, Rockchip `soc-thermal`...). */
const CPU_ZONE = /cpu|soc|x86_pkg|pkg_temp|package|core/i;

/**
 * What the OS says the device can spare now, each field absent when it does not say:
 * - `onAc`: a mains / USB supply online (`/sys/class/power_supply/* /type`, `online`), or a battery
 *   `Charging`, `Full` or `Not charging` (plugged in, held below full); `false` when the supplies
 *   say offline or the battery `Discharging`;
 * - `batteryPercent`: the batteries' `capacity` (their mean when there are several);
 * - `cpuTempC`: `/sys/class/thermal/thermal_zone* /temp` (millidegrees) of a CPU or SoC zone, else the first zone;
 * - `load`: the one-minute load average per CPU;
 * - `freeMemMb`: `MemAvailable` of `/proc/meminfo` (memory new work can take without swapping), else `os.freemem()`.
 */
export async function readResources(options: ResourceReaderOptions = {}): Promise<Resources> {
  const root = options.root ?? '/';
  const [power, cpuTempC, freeMemMb] = await Promise.all([readPower(root), readCpuTemp(root), readFreeMem(root, options.freemem ?? os.freemem)]);
  const cpus = Math.max(1, (options.cpus ?? os.availableParallelism)());
  const load = (options.loadavg ?? os.loadavg)()[0];
  return boundResources({
    ...power,
    ...(cpuTempC !== undefined && { cpuTempC }),
    ...(load !== undefined && Number.isFinite(load) && { load: Math.round((load / cpus) * 100) / 100 }),
    ...(freeMemMb !== undefined && { freeMemMb }),
  });
}

/** `r` with only the values a status may carry: finite and in the wire's bounds (others left out). */
export function boundResources(r: Resources): Resources {
  const out: Resources = {};
  if (typeof r.onAc === 'boolean') out.onAc = r.onAc;
  for (const key of Object.keys(BOUNDS) as (keyof typeof BOUNDS)[]) {
    const v = r[key];
    const [min, max] = BOUNDS[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) out[key] = v;
  }
  return out;
}

async function text(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function readPower(root: string): Promise<Pick<Resources, 'onAc' | 'batteryPercent'>> {
  const dir = path.join(root, 'sys/class/power_supply');
  let external: boolean | undefined;
  const capacities: number[] = [];
  for (const name of await entries(dir)) {
    const at = (f: string): Promise<string | undefined> => text(path.join(dir, name, f));
    const type = (await at('type'))?.toLowerCase();
    if (type === undefined) continue;
    if (type === 'battery') {
      // A peripheral's battery (a mouse: scope Device) says nothing of this device's power.
      if ((await at('scope'))?.toLowerCase() === 'device') continue;
      const status = (await at('status'))?.toLowerCase();
      if (status !== undefined && ON_POWER.has(status)) external = true;
      else if (status === 'discharging') external ??= false;
      const capacity = Number(await at('capacity'));
      if ((await at('capacity')) !== undefined && Number.isFinite(capacity)) capacities.push(capacity);
    } else {
      const online = await at('online');
      if (online === '1') external = true;
      else if (online === '0') external ??= false;
    }
  }
  return {
    ...(external !== undefined && { onAc: external }),
    ...(capacities.length > 0 && { batteryPercent: Math.round(capacities.reduce((a, b) => a + b, 0) / capacities.length) }),
  };
}

async function readCpuTemp(root: string): Promise<number | undefined> {
  const dir = path.join(root, 'sys/class/thermal');
  let first: number | undefined;
  const zones = (await entries(dir)).filter((n) => /^thermal_zone\d+$/.test(n)).sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  for (const name of zones) {
    const raw = await text(path.join(dir, name, 'temp'));
    const milli = raw === undefined || !/^-?\d+$/.test(raw) ? NaN : Number(raw);
    if (!Number.isFinite(milli)) continue;
    const celsius = Math.round(milli / 100) / 10;
    const type = (await text(path.join(dir, name, 'type'))) ?? '';
    if (CPU_ZONE.test(type)) return celsius;
    first ??= celsius;
  }
  return first;
}

async function readFreeMem(root: string, freemem: () => number): Promise<number | undefined> {
  const info = await text(path.join(root, 'proc/meminfo'));
  const kb = info === undefined ? undefined : /^MemAvailable:\s+(\d+)\s*kB/m.exec(info)?.[1];
  const bytes = kb !== undefined ? Number(kb) * 1024 : freemem();
  return Number.isFinite(bytes) ? Math.round(bytes / 2 ** 20) : undefined;
}
