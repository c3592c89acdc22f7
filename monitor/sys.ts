/**
 * What the broker says about itself on `$SYS/#`, where it allows the subscription. Brokers
 * differ: Aedes publishes `$SYS/{id}/heartbeat` and `$SYS/{id}/new/clients` /
 * `disconnect/clients` (payload: the client id); Mosquitto publishes counters such as
 * `$SYS/broker/clients/connected` as text. Both kinds are kept.
 */
export interface BrokerView {
  /** `pending` until the SUBACK; `denied` when the broker refused `$SYS/#` (0x80 [MQTT-3.9.3]). */
  sys: 'pending' | 'allowed' | 'denied';
  /** Aedes broker id, from its heartbeat topic. */
  brokerId?: string;
  /** Monitor time of the last Aedes heartbeat. */
  lastHeartbeat?: number;
  /** Client connections and disconnections announced since the monitor attached. */
  connects: number;
  disconnects: number;
  /** Clients that connected since the monitor attached and are still connected. */
  clientsSeen: number;
  /** Last text value of each other `$SYS` topic (Mosquitto's counters), at most MAX_SYS_VALUES. */
  values: Record<string, string>;
}

export const MAX_SYS_VALUES = 200;
const MAX_VALUE_CHARS = 200;

const AEDES = /^\$SYS\/([^/]+)\/(heartbeat|birth|new\/clients|disconnect\/clients|new\/subscribes|new\/unsubscribes)$/;

export class SysTracker {
  private state: BrokerView['sys'] = 'pending';
  private brokerId: string | undefined;
  private lastHeartbeat: number | undefined;
  private connects = 0;
  private disconnects = 0;
  private readonly clients = new Set<string>();
  private readonly values = new Map<string, string>();

  subscription(granted: boolean): void {
    this.state = granted ? 'allowed' : 'denied';
  }

  /**
   * Reads one `$SYS` message; returns the client id that connected, if it says so, so the
   * caller can mark a device as seen.
   */
  message(topic: string, payload: Uint8Array, now: number): { connected?: string; disconnected?: string } {
    this.state = 'allowed';
    const m = AEDES.exec(topic);
    if (m) {
      const [, id, kind] = m;
      this.brokerId = id;
      const text = utf8(payload);
      if (kind === 'heartbeat' || kind === 'birth') this.lastHeartbeat = now;
      if (kind === 'new/clients') {
        this.connects += 1;
        this.clients.add(text);
        return { connected: text };
      }
      if (kind === 'disconnect/clients') {
        this.disconnects += 1;
        this.clients.delete(text);
        return { disconnected: text };
      }
      return {};
    }
    if (this.values.has(topic) || this.values.size < MAX_SYS_VALUES) {
      this.values.set(topic, utf8(payload).slice(0, MAX_VALUE_CHARS));
    }
    return {};
  }

  view(): BrokerView {
    return {
      sys: this.state,
      ...(this.brokerId !== undefined && { brokerId: this.brokerId }),
      ...(this.lastHeartbeat !== undefined && { lastHeartbeat: this.lastHeartbeat }),
      connects: this.connects,
      disconnects: this.disconnects,
      clientsSeen: this.clients.size,
      values: Object.fromEntries(this.values),
    };
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function utf8(payload: Uint8Array): string {
  return decoder.decode(payload.byteLength > 4096 ? payload.subarray(0, 4096) : payload);
}
