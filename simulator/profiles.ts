import { readFileSync } from 'node:fs';
import { OptionsError, Rng } from '../protocol/index.js';
import type { Trainer, TrainJob, TrainOutcome } from '../device-agent/index.js';

/**
 * A class of device in a heterogeneous fleet. The simulated devices share this machine's
 * cores, so the simulator never sleeps: it accounts each device's round in simulated time.
 */
export interface DeviceProfile {
  name: string;
  /** Multiplier of the training time measured on this machine (8 = eight times slower). */
  speed: number;
  /** Uplink in bits per second. */
  uplinkBps: number;
  /** Downlink in bits per second. */
  downlinkBps: number;
  /** One-way latency added to each transfer, in ms. */
  latencyMs: number;
  /** Probability that the device drops out of a round it was chosen for, in [0, 1). */
  dropout: number;
  /** Long-run share of time the device is online and can be chosen, in (0, 1]. @default 1 */
  availability?: number;
  /** Mean length of an online session, in simulated seconds (see availability.ts). @default 600 */
  sessionS?: number;
}

/**
 * Built-in profiles. Speeds are relative to one x86 core running tfjs-wasm, taken as equal to a
 * Pi 5 (Cortex-A76 @ 2.4 GHz): published single-core CPU benchmarks (Geekbench 6, sysbench,
 * Phoronix's Pi 5 review) put the Pi 5 at 2-3x a Pi 4 (A72 @ 1.5-1.8 GHz) and the Pi 4 at about
 * 3x a Pi Zero 2 W (A53 @ 1 GHz: in-order core, lower clock): hence 1, 2.5 and 8. These are
 * rough and wasm SIMD on ARM may differ; measure on the real board when it matters.
 * Links assume Wi-Fi: 2.4 GHz 802.11n on the Zero 2 W (~20/10 Mbit/s achieved), 802.11ac on
 * the Pi 4 and 5. Dropout rates are assumptions (battery, power-saving Wi-Fi), not measurements.
 */
export const BUILTIN_PROFILES: Readonly<Record<string, DeviceProfile>> = {
  'pi-zero-2': { name: 'pi-zero-2', speed: 8, uplinkBps: 10e6, downlinkBps: 20e6, latencyMs: 30, dropout: 0.1 },
  'pi-4': { name: 'pi-4', speed: 2.5, uplinkBps: 50e6, downlinkBps: 100e6, latencyMs: 10, dropout: 0.05 },
  'pi-5': { name: 'pi-5', speed: 1, uplinkBps: 100e6, downlinkBps: 200e6, latencyMs: 5, dropout: 0.02 },
};

/** A fleet mix: each profile with its share of the devices (shares sum to 1). */
export interface ProfileMix {
  /** What it was parsed from: `NAME:SHARE,...` or the file's path. */
  spec: string;
  entries: { profile: DeviceProfile; share: number }[];
}

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Parses `NAME:SHARE,...` over the built-ins (`pi-zero-2:0.3,pi-4:0.5,pi-5:0.2`; a lone `NAME`
 * means all devices) or a `FILE.json` holding an array of profiles, each with an optional
 * `share` (equal shares when none is given). Throws `OptionsError('profiles', ...)`.
 */
export function parseProfiles(spec: string): ProfileMix {
  const fail = (why: string, cause?: unknown): never => {
    throw new OptionsError('profiles', `"${spec}": ${why}`, { cause });
  };
  if (typeof spec !== 'string' || spec.trim() === '') fail('empty');
  if (spec.endsWith('.json')) return { spec, entries: fromFile(spec, fail) };
  const entries = spec.split(',').map((part) => {
    const [name = '', shareText, ...extra] = part.trim().split(':');
    const profile = BUILTIN_PROFILES[name];
    if (!profile) fail(`unknown profile "${name}"; built-in: ${Object.keys(BUILTIN_PROFILES).join(', ')}, or a FILE.json`);
    if (extra.length > 0) fail(`"${part}" is not NAME:SHARE`);
    const share = shareText === undefined ? 1 : NUMBER.test(shareText) ? Number(shareText) : NaN;
    return { profile: profile!, share };
  });
  return { spec, entries: normalise(entries, fail) };
}

function fromFile(file: string, fail: (why: string, cause?: unknown) => never): ProfileMix['entries'] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return fail(`cannot read profiles: ${(error as Error).message}`, error);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) fail('the file must hold a non-empty JSON array of profiles');
  const items = parsed as Record<string, unknown>[];
  const shared = items.some((p) => p?.share !== undefined);
  const entries = items.map((p, i) => {
    if (typeof p !== 'object' || p === null) return fail(`profile ${i} is not an object`);
    const name = p.name;
    if (typeof name !== 'string' || name === '') fail(`profile ${i}: name must be a non-empty string`);
    const field = (key: string, ok: (v: number) => boolean, rule: string): number => {
      const v = p[key];
      if (typeof v !== 'number' || !ok(v)) fail(`profile ${String(name)}: ${key} must be ${rule}, got ${JSON.stringify(v)}`);
      return v as number;
    };
    const positive = (v: number): boolean => v > 0 && Number.isFinite(v);
    const profile: DeviceProfile = {
      name: name as string,
      speed: field('speed', positive, 'a positive number'),
      uplinkBps: field('uplinkBps', positive, 'a positive number'),
      downlinkBps: field('downlinkBps', positive, 'a positive number'),
      latencyMs: field('latencyMs', (v) => v >= 0 && Number.isFinite(v), 'a number >= 0'),
      dropout: field('dropout', (v) => v >= 0 && v < 1, 'in [0, 1)'),
      ...(p.availability !== undefined && { availability: field('availability', (v) => v > 0 && v <= 1, 'in (0, 1]') }),
      ...(p.sessionS !== undefined && { sessionS: field('sessionS', positive, 'a positive number') }),
    };
    return { profile, share: shared ? field('share', (v) => v >= 0, 'a number >= 0') : 1 };
  });
  return normalise(entries, fail);
}

function normalise(entries: ProfileMix['entries'], fail: (why: string) => never): ProfileMix['entries'] {
  for (const e of entries) if (!(e.share >= 0 && Number.isFinite(e.share))) fail(`the share of ${e.profile.name} must be a number >= 0`);
  const names = entries.map((e) => e.profile.name);
  if (new Set(names).size !== names.length) fail('a profile is named twice');
  const total = entries.reduce((s, e) => s + e.share, 0);
  if (!(total > 0)) fail('the shares sum to 0');
  return entries.map((e) => ({ profile: e.profile, share: e.share / total }));
}

/**
 * Gives each device a profile: round(share * n) devices each (largest remainders, so the counts
 * sum to n), over a seeded shuffle of the sorted ids: the same ids, mix and seed always agree.
 */
export function assignProfiles(deviceIds: readonly string[], mix: ProfileMix, seed: number): Map<string, DeviceProfile> {
  const ids = [...new Set(deviceIds)].sort();
  Rng.derive(seed, 'simulator.profiles').shuffle(ids);
  const exact = mix.entries.map((e) => e.share * ids.length);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => ({ i, rest: x - Math.floor(x) })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (let k = 0, left = ids.length - counts.reduce((s, c) => s + c, 0); k < left; k++) counts[order[k]!.i]! += 1;
  const out = new Map<string, DeviceProfile>();
  let next = 0;
  mix.entries.forEach((e, i) => {
    for (let c = 0; c < counts[i]!; c++) out.set(ids[next++]!, e.profile);
  });
  return out;
}

/** Whether `deviceId` drops out of `round`: seeded, so a run is reproducible. */
export function dropsOut(profile: DeviceProfile, seed: number, round: number, deviceId: string): boolean {
  return profile.dropout > 0 && Rng.derive(seed, 'simulator.dropout', round, deviceId).next() < profile.dropout;
}

/** Time to move `bytes` over a link of `bps` bits per second with `latencyMs`, in ms. */
export function transferMs(bytes: number, bps: number, latencyMs: number): number {
  return (bytes * 8 * 1000) / bps + latencyMs;
}

/**
 * A device's simulated finish time in a round: download the global, train (measured time x
 * speed), upload the update.
 */
export function simulatedFinishMs(profile: DeviceProfile, io: { downBytes: number; trainMs: number; upBytes: number }): number {
  return transferMs(io.downBytes, profile.downlinkBps, profile.latencyMs) + io.trainMs * profile.speed + transferMs(io.upBytes, profile.uplinkBps, profile.latencyMs);
}

/**
 * A `Trainer` that tells `onTrained` each job's measured training time; the simulator wraps the
 * shared trainer once per device this way. `dispose` does not dispose the shared `inner`.
 */
export function timedTrainer(inner: Trainer, onTrained: (ms: number, job: TrainJob) => void): Trainer {
  return {
    async train(job: TrainJob): Promise<TrainOutcome> {
      const outcome = await inner.train(job);
      onTrained(outcome.ms, job);
      return outcome;
    },
    evaluate: (job) => inner.evaluate(job),
    dispose: () => undefined,
  };
}
