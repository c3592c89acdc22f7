import { isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import { recordSource } from './connectionInfo.js';
import { TooManyConnectionsError } from './errors.js';
import { certificateHooks, limitPayload, limitRetained, refuseEmptyClientId } from './hooks/index.js';
import type { AcceptConnection, Listener } from './listener.js';
import { maxPacketBytes as largestPacket, parseBrokerOptions, type BrokerOptions } from './options.js';
import { IncompleteBytesBudget, guardPackets } from './packetGuard.js';
import { StatsCounter, type BrokerStats } from './stats.js';
import { listenTcp } from './tcpListener.js';
import { listenTls } from './tlsListener.js';
import { listenWebSocket } from './wsListener.js';

/** A running broker. */
export interface BrokerHandle {
  /** Bound TCP port (the real one when 0 was asked). */
  readonly port: number;
  /** Bound WebSocket port, `undefined` without a WebSocket listener. */
  readonly wsPort: number | undefined;
  /** `mqtt://host:port` to reach the broker; 127.0.0.1 when listening on every address. */
  readonly url: string;
  /** `ws://host:wsPort`, `undefined` without a WebSocket listener. */
  readonly wsUrl: string | undefined;
  /** Bound MQTT-over-TLS port, `undefined` without TLS. */
  readonly tlsPort: number | undefined;
  /** `mqtts://host:tlsPort`, `undefined` without TLS. */
  readonly tlsUrl: string | undefined;
  /** Bound secure WebSocket port, `undefined` without one. */
  readonly wssPort: number | undefined;
  /** `wss://host:wssPort`, `undefined` without a secure WebSocket listener. */
  readonly wssUrl: string | undefined;
  /**
   * The Aedes instance, for its events (`client`, `clientError`, `publish`, ...) and for
   * publishing on the broker's behalf. Errors of a listener after start-up are emitted
   * on it as `error`.
   */
  readonly aedes: Aedes;
  stats(): BrokerStats;
  /**
   * Stops the listeners, destroys open connections and closes Aedes; resolves when all
   * are closed and the ports are free. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** Starts Aedes and its listeners; rejects with `OptionsError` or `BrokerListenError`. */
export async function startBroker(options: BrokerOptions = {}): Promise<BrokerHandle> {
  const parsed = parseBrokerOptions(options);
  const { tls } = parsed;
  // With a CA, a verified client certificate is an identity. Without a certificate a client goes
  // to the configured policy, unless certificates are required and no authenticate hook was
  // given that could log it in some other way (the default lets anyone in).
  const hooks = tls?.verifiesClients
    ? certificateHooks(parsed.hooks, { withoutCertificate: tls.requireClientCert && options.hooks?.authenticate === undefined ? 'refuse' : 'next' })
    : parsed.hooks;
  const aedes = new Aedes();
  const stats = new StatsCounter(aedes);
  // The wrappers hold whatever policy is configured: MQTT's own rules and the limits are not
  // the policy's to forget.
  const emptyIds = refuseEmptyClientId();
  aedes.preConnect = emptyIds.preConnect;
  aedes.authenticate = stats.countLogins(emptyIds.authenticate(hooks.authenticate));
  aedes.authorizeSubscribe = stats.countSubscriptions(hooks.authorizeSubscribe);
  aedes.authorizePublish = stats.countPublishes(
    limitPayload(parsed.maxPayloadBytes, limitRetained(parsed.maxRetainedBytesPerClient, hooks.authorizePublish)),
  );
  aedes.authorizeForward = stats.countForwards(hooks.authorizeForward);
  await aedes.listen();

  const maxPacketBytes = largestPacket(parsed.maxPayloadBytes);
  const guardLimits = {
    maxRemainingLength: maxPacketBytes,
    timeoutMs: parsed.packetTimeoutMs,
    clock: parsed.clock,
    budget: new IncompleteBytesBudget(parsed.maxIncompleteBytesTotal),
    onRefuse: stats.countRefusedConnection,
  };
  let open = 0;
  const accept: AcceptConnection = (conn: Duplex, request?: IncomingMessage) => {
    if (open >= parsed.maxConnections) {
      // Cut before Aedes allocates a client for it; the peer sees the connection close.
      stats.countRefusedConnection(new TooManyConnectionsError(parsed.maxConnections));
      conn.destroy();
      return;
    }
    open += 1;
    conn.once('close', () => {
      open -= 1;
    });
    const guarded = guardPackets(conn, guardLimits);
    recordSource(guarded, conn, request, tls?.verifiesClients);
    aedes.handle(guarded, request);
  };
  const onListenerError = (error: Error): void => {
    aedes.emit('error', error);
  };

  const onHandshakeError = stats.countRefusedConnection;
  const listeners: Listener[] = [];
  const closeAll = async (): Promise<void> => {
    // Listeners first, so no new client arrives while Aedes closes the ones it has.
    const listenersClosed = Promise.all(listeners.map((listener) => listener.close()));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await listenersClosed;
  };
  let ws: Listener | undefined;
  let secure: Listener | undefined;
  let wss: Listener | undefined;
  try {
    const tcp = await listenTcp(parsed.host, parsed.port, accept, onListenerError);
    listeners.push(tcp);
    if (parsed.wsPort !== undefined) {
      listeners.push(ws = await listenWebSocket(parsed.host, parsed.wsPort, maxPacketBytes, accept, onListenerError));
    }
    if (tls !== undefined) {
      listeners.push(secure = await listenTls(tls.host, tls.port, tls, parsed.packetTimeoutMs, accept, onHandshakeError, onListenerError));
      if (tls.wssPort !== undefined) {
        const wssOptions = { tls, handshakeTimeoutMs: parsed.packetTimeoutMs, onHandshakeError };
        listeners.push(wss = await listenWebSocket(tls.host, tls.wssPort, maxPacketBytes, accept, onListenerError, wssOptions));
      }
    }
  } catch (error) {
    await closeAll();
    throw error;
  }

  const tcp = listeners[0]!;
  const host = urlHost(parsed.host);
  const tlsHost = tls === undefined ? host : urlHost(tls.host);
  let closing: Promise<void> | undefined;
  return {
    port: tcp.port,
    wsPort: ws?.port,
    url: `mqtt://${host}:${tcp.port}`,
    wsUrl: ws === undefined ? undefined : `ws://${host}:${ws.port}`,
    tlsPort: secure?.port,
    tlsUrl: secure === undefined ? undefined : `mqtts://${tlsHost}:${secure.port}`,
    wssPort: wss?.port,
    wssUrl: wss === undefined ? undefined : `wss://${tlsHost}:${wss.port}`,
    aedes,
    stats: () => stats.snapshot(),
    close: () => (closing ??= closeAll()),
  };
}

/** The host part of a URL that reaches a listener bound to `host`. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return isIPv6(host) ? `[${host}]` : host;
}
