import type { Capabilities, DeviceState, Resources, StatusMessage } from '../protocol/index.js';

export interface DeviceRecord {
  deviceId: string;
  state: DeviceState;
  capabilities: Capabilities | undefined;
  /** What the device last said it can spare (battery, temperature, load, memory). */
  resources?: Resources;
  /**
   * Examples the device declared (`capabilities.samples`) when it joined: its first
   * declaration, lowered by any smaller later one, never raised. Undefined until it declares.
   */
  declaredSamples?: number;
  /** Local clock (ms) when the aggregator last heard of the device. */
  lastSeen: number;
}

/**
 * The most examples an update of a device that never declared any may claim, when no device
 * of the fleet declared either (otherwise the median of the fleet's declarations).
 */
export const UNDECLARED_EXAMPLES_CAP = 10_000;

/**
 * Presence of the fleet, built from retained `status/{id}` messages. A device that
 * vanishes without saying goodbye is marked offline by its last will, which the broker
 * publishes to the same topic [MQTT-3.1.2-8].
 */
export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceRecord>();

  /** Records a status; returns true when the device's state changed. */
  apply(status: StatusMessage, now = Date.now()): boolean {
    const prev = this.devices.get(status.deviceId);
    const declared = status.capabilities?.samples;
    this.devices.set(status.deviceId, {
      deviceId: status.deviceId,
      state: status.state,
      capabilities: status.capabilities ?? prev?.capabilities,
      resources: status.resources ?? prev?.resources,
      lastSeen: now,
    });
    const samples = declared === undefined ? prev?.declaredSamples : Math.min(declared, prev?.declaredSamples ?? Infinity);
    if (samples !== undefined) this.devices.get(status.deviceId)!.declaredSamples = samples;
    return prev?.state !== status.state;
  }

  /** A retained status was cleared (empty payload): the device is gone. */
  remove(deviceId: string): void {
    this.devices.delete(deviceId);
  }

  /**
   * The most examples an update from `deviceId` counts for (FedAvg weighs updates by them):
   * what it declared on joining (at least 1); a device that declared nothing gets the median
   * of the fleet's declarations, or `UNDECLARED_EXAMPLES_CAP` when nobody declared.
   */
  examplesCap(deviceId: string): number {
    const own = this.devices.get(deviceId)?.declaredSamples;
    if (own !== undefined) return Math.max(1, own);
    const declared = [...this.devices.values()].flatMap((d) => (d.declaredSamples === undefined ? [] : [d.declaredSamples])).sort((a, b) => a - b);
    if (declared.length === 0) return UNDECLARED_EXAMPLES_CAP;
    const mid = declared.length >> 1;
    return Math.max(1, declared.length % 2 === 1 ? declared[mid]! : Math.floor((declared[mid - 1]! + declared[mid]!) / 2));
  }

  get(deviceId: string): DeviceRecord | undefined {
    return this.devices.get(deviceId);
  }

  isOnline(deviceId: string): boolean {
    const state = this.devices.get(deviceId)?.state;
    return state === 'online' || state === 'training';
  }

  /** Ids of devices that are online, training or busy (connected), sorted so that selection is deterministic. */
  online(): string[] {
    return [...this.devices.values()]
      .filter((d) => d.state !== 'offline')
      .map((d) => d.deviceId)
      .sort();
  }

  all(): DeviceRecord[] {
    return [...this.devices.values()];
  }
}
