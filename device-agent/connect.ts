import type { Socket } from 'node:net';
import mqtt, { type ISecureClientOptions, type MqttClient } from 'mqtt';
import { DeviceState, build, encodeMessage, fleetTopics } from '../protocol/index.js';

export const INITIAL_RECONNECT_MS = 500;
export const MAX_RECONNECT_MS = 30_000;

export interface DeviceConnectOptions {
  /** Broker URL, e.g. mqtt://192.168.1.10:1883, mqtts://hub.local:8883, ws://host:8080 or wss://host:8081. */
  url: string;
  deviceId: string;
  /** @default 'default' */
  fleet?: string;
  username?: string;
  password?: string;
  /**
   * TLS for `mqtts://` and `wss://`: `ca` to trust (else the system's CAs), and for mutual TLS the
   * device's `cert` (its CN the device id) and `key`, PEM (mqtt.js's `ISecureClientOptions`).
   */
  tls?: ISecureClientOptions;
  /** @default 30 */
  keepaliveSeconds?: number;
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** Told of each failed attempt while the first connection is retried (broker not up yet). */
  onRetry?: (error: Error) => void;
}

/**
 * Connects a device with its identity as client id and a retained last will that marks it
 * offline, so the aggregator learns of a lost device from the broker [MQTT-3.1.2-8].
 * Keeps trying until the broker answers (a device may boot before its hub), and reconnects
 * with exponential backoff (0.5 s doubling to 30 s, reset on success). A broker that refuses
 * the connection (bad credentials, [MQTT-3.2.2-5]) is an error, not a reason to retry.
 */
export async function connectDevice(options: DeviceConnectOptions): Promise<MqttClient> {
  const topics = fleetTopics(options.fleet);
  const will = encodeMessage(build.status({ deviceId: options.deviceId, state: DeviceState.Offline, ts: Date.now() }));
  const client = mqtt.connect(options.url, {
    clientId: options.deviceId,
    clean: true,
    keepalive: options.keepaliveSeconds ?? 30,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    reconnectPeriod: INITIAL_RECONNECT_MS,
    ...(options.username !== undefined && { username: options.username }),
    ...(options.password !== undefined && { password: options.password }),
    ...options.tls,
    will: { topic: topics.status(options.deviceId), payload: Buffer.from(will), qos: 1, retain: true },
  });
  withBackoff(client);
  sendImmediately(client);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error & { code?: unknown }): void => {
      if (typeof error.code === 'number') {
        client.off('connect', onConnect);
        client.off('error', onError);
        client.end(true);
        reject(error);
      } else {
        options.onRetry?.(error);
      }
    };
    const onConnect = (): void => {
      client.off('error', onError);
      resolve();
    };
    client.once('connect', onConnect);
    client.on('error', onError);
  });
  return client;
}

/** Doubles mqtt.js's fixed reconnect period after each lost connection or failed attempt. */
export function withBackoff(client: MqttClient, initialMs = INITIAL_RECONNECT_MS, maxMs = MAX_RECONNECT_MS): void {
  client.options.reconnectPeriod = initialMs;
  client.on('connect', () => {
    client.options.reconnectPeriod = initialMs;
  });
  client.on('close', () => {
    client.options.reconnectPeriod = Math.min(maxMs, (client.options.reconnectPeriod ?? initialMs) * 2);
  });
}

/**
 * Turns off Nagle's algorithm on each new TCP connection: mqtt.js writes a packet in
 * pieces, and every QoS 1 publish otherwise waits ~40 ms on the broker's delayed ACK.
 */
export function sendImmediately(client: MqttClient): void {
  client.on('connect', () => (client.stream as Partial<Socket>).setNoDelay?.(true));
}
