import type { EvaluationMessage, Resources, StatusMessage, UpdateMessage } from '../protocol/index.js';
import { boundedRecord } from './evaluation.js';

/** A device as the monitor sees it; every time is the monitor's receipt time (Unix ms). */
export interface DeviceView {
  id: string;
  /** From its retained status; `unknown` until one arrives (e.g. only an update was seen). */
  state: 'online' | 'training' | 'busy' | 'offline' | 'unknown';
  /** Last time anything came from it: status, update, or its connection in `$SYS`. */
  lastSeen: number;
  backend?: string;
  cpus?: number;
  memoryMb?: number;
  samples?: number;
  /** Why it is `busy` (the rules of its `--train-when` that fail), as its last status said. */
  reason?: string;
  /** What its last status said it can spare (power, CPU temperature, load, free memory). */
  resources?: Resources;
  /** Payload bytes of its last update, as published. */
  lastUpdateBytes?: number;
  lastUpdateRound?: number;
  lastUpdateAt?: number;
  /** Local training loss and accuracy it reported with its last update (no accuracy for a regression task). */
  trainLoss?: number;
  trainAccuracy?: number;
  trainMs?: number;
  /** Its last `evaluation`: of which round's global, on how many held-out examples, with what result. */
  evalRound?: number;
  evalGlobalVersion?: number;
  evalCount?: number;
  evalLoss?: number;
  /** The task's metrics by name, at most 16 (names come from the network). */
  evalMetrics?: Record<string, number>;
  /** Why it could not evaluate (then `evalCount` is 0). */
  evalError?: string;
  evalAt?: number;
}

/** Most devices kept; beyond it the longest-unseen offline ones are dropped first. */
export const MAX_DEVICES = 100_000;

/** Presence and last update of every device seen on the fleet's topics. */
export class DeviceTable {
  private readonly devices = new Map<string, DeviceView>();

  constructor(private readonly maxDevices = MAX_DEVICES) {}

  get size(): number {
    return this.devices.size;
  }

  get(id: string): DeviceView | undefined {
    return this.devices.get(id);
  }

  /**
   * A retained status may be old news (it was stored when the device last spoke), so it dates
   * the device by its own `ts` when that is in the past; a live one by its arrival.
   */
  status(message: StatusMessage, retained: boolean, now: number): void {
    const at = retained && message.ts > 0 && message.ts < now ? message.ts : now;
    const d = this.touch(message.deviceId, at);
    d.state = message.state;
    if (message.state === 'busy' && message.reason !== undefined) d.reason = message.reason;
    else delete d.reason;
    // A status without resources (a last will, an older agent) leaves none: old readings would mislead.
    if (message.resources) d.resources = { ...message.resources };
    else delete d.resources;
    const caps = message.capabilities;
    if (caps) {
      d.backend = caps.backend;
      d.cpus = caps.cpus;
      d.memoryMb = caps.memoryMb;
      d.samples = caps.samples;
    }
  }

  update(message: UpdateMessage, bytes: number, now: number): void {
    const d = this.touch(message.deviceId, now);
    d.lastUpdateBytes = bytes;
    d.lastUpdateRound = message.round;
    d.lastUpdateAt = now;
    d.trainLoss = message.metrics.loss;
    if (message.metrics.accuracy === undefined) delete d.trainAccuracy;
    else d.trainAccuracy = message.metrics.accuracy;
    d.trainMs = message.trainMs;
  }

  evaluation(message: EvaluationMessage, now: number): void {
    const d = this.touch(message.deviceId, now);
    d.evalRound = message.round;
    d.evalGlobalVersion = message.globalVersion;
    d.evalCount = message.count;
    d.evalLoss = message.loss;
    d.evalMetrics = boundedRecord(message.metrics);
    if (message.error === undefined) delete d.evalError;
    else d.evalError = message.error;
    d.evalAt = now;
  }

  /** Something arrived from `id` that says nothing of its state (a connect, an unreadable update). */
  seen(id: string, now: number): void {
    if (this.devices.has(id)) this.touch(id, now);
  }

  /** An empty retained status clears the device [MQTT-3.3.1-10]: it left the fleet. */
  remove(id: string): void {
    this.devices.delete(id);
  }

  counts(): { total: number; online: number; training: number; busy: number; offline: number; unknown: number } {
    const c = { total: 0, online: 0, training: 0, busy: 0, offline: 0, unknown: 0 };
    for (const d of this.devices.values()) {
      c.total += 1;
      c[d.state] += 1;
    }
    return c;
  }

  /** Training first, then online, busy, unknown, offline; by id within each. */
  list(): DeviceView[] {
    const order = { training: 0, online: 1, busy: 2, unknown: 3, offline: 4 } as const;
    return [...this.devices.values()]
      .map((d) => ({ ...d, ...(d.evalMetrics && { evalMetrics: { ...d.evalMetrics } }), ...(d.resources && { resources: { ...d.resources } }) }))
      .sort((a, b) => order[a.state] - order[b.state] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private touch(id: string, now: number): DeviceView {
    let d = this.devices.get(id);
    if (!d) {
      if (this.devices.size >= this.maxDevices) this.evict();
      d = { id, state: 'unknown', lastSeen: now };
      this.devices.set(id, d);
    }
    d.lastSeen = Math.max(d.lastSeen, now);
    return d;
  }

  private evict(): void {
    let victim: DeviceView | undefined;
    for (const d of this.devices.values()) {
      if (d.state === 'offline' && (!victim || d.lastSeen < victim.lastSeen)) victim = d;
    }
    victim ??= [...this.devices.values()].reduce((a, b) => (a.lastSeen <= b.lastSeen ? a : b));
    this.devices.delete(victim.id);
  }
}

/**
 * A device's resources in a few characters: `mains 95%  52C  load 0.30  512 MB free` (`battery
 * 30%` when on battery); parts it did not report are left out, `-` when none.
 */
export function formatResources(r: Resources | undefined): string {
  if (!r) return '-';
  const parts: string[] = [];
  const power = r.onAc === undefined ? '' : r.onAc ? 'mains' : 'battery';
  const charge = r.batteryPercent === undefined ? '' : `${Math.round(r.batteryPercent)}%`;
  if (power || charge) parts.push([power, charge].filter(Boolean).join(' '));
  if (r.cpuTempC !== undefined) parts.push(`${Math.round(r.cpuTempC)}C`);
  if (r.load !== undefined) parts.push(`load ${r.load.toFixed(2)}`);
  if (r.freeMemMb !== undefined) parts.push(`${Math.round(r.freeMemMb).toLocaleString('en-US')} MB free`);
  return parts.length === 0 ? '-' : parts.join('  ');
}
