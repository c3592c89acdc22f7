import type { Capabilities, DeviceState, StatusMessage } from '../protocol/index.js';

export interface DeviceRecord {
  deviceId: string;
  state: DeviceState;
  capabilities: Capabilities | undefined;
  /** Local clock (ms) when the aggregator last heard of the device. */
  lastSeen: number;
}

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
    this.devices.set(status.deviceId, {
      deviceId: status.deviceId,
      state: status.state,
      capabilities: status.capabilities ?? prev?.capabilities,
      lastSeen: now,
    });
    return prev?.state !== status.state;
  }

  /** A retained status was cleared (empty payload): the device is gone. */
  remove(deviceId: string): void {
    this.devices.delete(deviceId);
  }

  get(deviceId: string): DeviceRecord | undefined {
    return this.devices.get(deviceId);
  }

  isOnline(deviceId: string): boolean {
    const state = this.devices.get(deviceId)?.state;
    return state === 'online' || state === 'training';
  }

  /** Ids of devices that are online or training, sorted so that selection is deterministic. */
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
