import type { Socket } from 'node:net';
import mqtt, { type ISecureClientOptions, type MqttClient } from 'mqtt';
import { DEFAULT_FLEET } from '../protocol/index.js';

export interface AggregatorConnectOptions {
  url: string;
  /** @default 'default' */
  fleet?: string;
  username?: string;
  password?: string;
  /** TLS for `mqtts://` and `wss://`: `ca` to trust, and for mutual TLS `cert` and `key`, PEM (mqtt.js's `ISecureClientOptions`). */
  tls?: ISecureClientOptions;
  /**
   * The MQTT client id. A broker that knows clients by certificate wants the certificate's name
   * first (`NAME/...`, see broker/certs/identity.ts). @default `aggregator-{fleet}-{pid}`
   */
  clientId?: string;
}

/**
 * Connects the aggregator's MQTT client: a client id unique to this process, automatic
 * reconnects, and no Nagle delay (each QoS 1 publish would otherwise wait ~40 ms on the
 * broker's delayed ACK; the device side does the same in `device-agent/connect.ts`).
 */
export async function connectAggregator(options: AggregatorConnectOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(options.url, {
    clientId: options.clientId ?? `aggregator-${options.fleet ?? DEFAULT_FLEET}-${process.pid}`,
    reconnectPeriod: 1000,
    ...(options.username !== undefined && { username: options.username }),
    ...(options.password !== undefined && { password: options.password }),
    ...options.tls,
  });
  const noDelay = (): void => void (client.stream as Partial<Socket>).setNoDelay?.(true);
  noDelay();
  client.on('connect', noDelay);
  return client;
}
