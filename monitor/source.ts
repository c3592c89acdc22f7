import mqtt, { type IClientOptions, type ISecureClientOptions, type MqttClient } from 'mqtt';
import { fleetTopics } from '../protocol/index.js';
import { FleetState } from './state.js';
import type { MonitorTrust } from './signatures.js';

/** Options of {@link watchFleet}. */
export interface WatchOptions {
  /** Broker URL: `mqtt://`, `mqtts://`, or `ws://`/`wss://` (the dashboard in a browser). */
  url: string;
  /** @default 'default' */
  fleet?: string;
  username?: string;
  password?: string;
  /**
   * TLS for `mqtts://` and `wss://` in Node: `ca` to trust, and for mutual TLS `cert` and `key`, PEM
   * (mqtt.js's `ISecureClientOptions`). A browser ignores it: the page trusts what the browser trusts.
   */
  tls?: ISecureClientOptions;
  /** Also subscribe to `$SYS/#` (brokers may refuse it). @default true */
  sys?: boolean;
  /** @default `fedmq-monitor-` and random hex */
  clientId?: string;
  /** Called for every message after the state has taken it in. */
  onMessage?: (message: { topic: string; payload: Uint8Array; retained: boolean; at: number }) => void;
  /** @default Date.now */
  clock?: () => number;
  /** The aggregator's key, to show whether the fleet's messages verify (monitor/signatures.ts). */
  trust?: MonitorTrust | null;
  /** Why there is no `trust`, shown in the views. */
  trustNote?: string;
}

/** A live read-only subscription feeding a {@link FleetState}. */
export interface FleetWatch {
  readonly state: FleetState;
  readonly client: MqttClient;
  /** Unsubscribes nothing and sends nothing but DISCONNECT: just closes. */
  close(): Promise<void>;
}

/** Delay between reconnect attempts; the view shows `reconnecting` meanwhile. */
export const RECONNECT_PERIOD_MS = 2_000;

/**
 * Connects to the broker and subscribes to the fleet's `fedmq/v1/{fleet}/#` and `$SYS/#`.
 * The monitor never publishes: no will, no retained clears, no requests. The same code runs in
 * Node and, bundled, in the dashboard page (mqtt.js over WebSocket).
 */
export function watchFleet(options: WatchOptions): FleetWatch {
  const clock = options.clock ?? Date.now;
  const topics = fleetTopics(options.fleet);
  const state = new FleetState({ fleet: topics.fleet, url: options.url, trust: options.trust ?? null, ...(options.trustNote !== undefined && { trustNote: options.trustNote }) });
  const clientOptions: IClientOptions = {
    clientId: options.clientId ?? `fedmq-monitor-${randomHex(8)}`,
    // A fresh session each time: the retained messages re-sent on subscribe rebuild the state.
    clean: true,
    reconnectPeriod: RECONNECT_PERIOD_MS,
    connectTimeout: 10_000,
    ...(options.username !== undefined && { username: options.username }),
    ...(options.password !== undefined && { password: options.password }),
    ...options.tls,
  };
  const client = mqtt.connect(options.url, clientOptions);
  state.connection('connecting', clock());

  client.on('connect', () => {
    state.connection('connected', clock());
    // QoS 0: a watcher needs no acknowledgements, and costs the broker the least.
    client.subscribe(topics.everything, { qos: 0 }, (error) => {
      if (error) state.connection('connected', clock(), `subscribe ${topics.everything}: ${error.message}`);
    });
    if (options.sys !== false) {
      client.subscribe('$SYS/#', { qos: 0 }, (error, granted) => {
        // 0x80 in the SUBACK is a refusal [MQTT-3.9.3-2]; mqtt.js reports it as qos 128.
        state.sysSubscription(!error && granted !== undefined && granted.every((g) => g.qos !== 128));
      });
    }
  });
  client.on('reconnect', () => state.connection('reconnecting', clock()));
  client.on('offline', () => state.connection('reconnecting', clock()));
  client.on('error', (error) => state.connection(client.connected ? 'connected' : 'reconnecting', clock(), error.message));
  client.on('end', () => state.connection('closed', clock()));
  client.on('message', (topic, payload, packet) => {
    const at = clock();
    state.ingest(topic, payload, packet.retain, at);
    options.onMessage?.({ topic, payload, retained: packet.retain, at });
  });

  return {
    state,
    client,
    close: async () => {
      await client.endAsync();
    },
  };
}

function randomHex(bytes: number): string {
  const values = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(values);
  return Array.from(values, (b) => b.toString(16).padStart(2, '0')).join('');
}
