import { FedmqError } from '../protocol/errors.js';

/** Why the broker refused a PUBLISH (a client's own, or its last will). */
export const PublishRejectReason = {
  /** Topic starts with `$`: reserved for the server [MQTT-4.7.2-1]. */
  ReservedTopic: 'reserved-topic',
  /** `update/{id}` or `status/{id}` of a device other than the publisher. */
  NotOwner: 'not-owner',
  /** Payload larger than `maxPayloadBytes`. */
  TooLarge: 'too-large',
  /** The client's role (`--auth`) may not publish there: a device outside its own topics, a monitor anywhere. */
  NotPermitted: 'not-permitted',
  /** Retained where no one may retain (any `update/{id}`), or, with `--auth`, by a device anywhere but its own `status/{id}`. */
  RetainNotPermitted: 'retain-not-permitted',
  /** The client's retained messages would exceed `maxRetainedBytesPerClient`. */
  RetainedQuota: 'retained-quota',
} as const;
export type PublishRejectReason = (typeof PublishRejectReason)[keyof typeof PublishRejectReason];

/**
 * A PUBLISH the authorizePublish hook refused. Aedes emits it as `clientError`
 * and closes the connection, since MQTT 3.1.1 cannot tell the client [MQTT-3.3.5-2].
 */
export class PublishRejectedError extends FedmqError {
  override name = 'PublishRejectedError';
  constructor(
    readonly reason: PublishRejectReason,
    readonly topic: string,
    /** The publishing client, `undefined` when Aedes could not tell. */
    readonly clientId: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const LISTENER_NAMES = { tcp: 'MQTT', tls: 'MQTT over TLS', ws: 'MQTT over WebSocket', wss: 'MQTT over secure WebSocket' } as const;

/** A listener (TCP, TLS, WebSocket or secure WebSocket) could not bind its port. */
export class BrokerListenError extends FedmqError {
  override name = 'BrokerListenError';
  constructor(
    readonly listener: keyof typeof LISTENER_NAMES,
    readonly host: string,
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot listen for ${LISTENER_NAMES[listener]} on ${host}:${port}${reason}`, options);
  }
}

/** Why the broker cut a connection before or outside the publish policy. */
export const ConnectionRefuseReason = {
  /** More connections open than `maxConnections`. */
  TooManyConnections: 'too-many-connections',
  /** A packet did not complete within `packetTimeoutMs` of its first byte. */
  PacketTimeout: 'packet-timeout',
  /** Incomplete packets of all clients together would hold more than `maxIncompleteBytesTotal`. */
  IncompleteBytes: 'incomplete-bytes',
  /** A packet announced a Remaining Length over the broker's limit. */
  TooLarge: 'packet-too-large',
  /** Bytes that are not an MQTT packet, a first packet other than CONNECT, or a string that is not well-formed UTF-8. */
  Malformed: 'malformed-packet',
  /** A TLS handshake failed: no client certificate where one is required, one the CA did not sign, not TLS at all, or too slow. */
  TlsHandshake: 'tls-handshake',
} as const;
export type ConnectionRefuseReason = (typeof ConnectionRefuseReason)[keyof typeof ConnectionRefuseReason];

/** The broker cut a connection for the reason given; counted in `BrokerStats.connectionsRefusedByReason`. */
export class ConnectionRefusedError extends FedmqError {
  override name = 'ConnectionRefusedError';
  constructor(
    readonly reason: ConnectionRefuseReason,
    message: string,
  ) {
    super(message);
  }
}

/** A client announced an MQTT packet larger than the broker accepts; its connection is cut. */
export class PacketTooLargeError extends ConnectionRefusedError {
  override name = 'PacketTooLargeError';
  constructor(
    /** Remaining Length the client announced, bytes. */
    readonly size: number,
    readonly limit: number,
  ) {
    super(ConnectionRefuseReason.TooLarge, `MQTT packet of ${size} bytes exceeds the broker's limit of ${limit} bytes`);
  }
}

/**
 * The bytes on a connection are not a valid MQTT packet stream: a malformed Remaining Length,
 * a first packet other than CONNECT [MQTT-3.1.0-1], or a topic that is not well-formed UTF-8
 * or holds U+0000 [MQTT-1.5.3-1, MQTT-1.5.3-2].
 */
export class MalformedPacketError extends ConnectionRefusedError {
  override name = 'MalformedPacketError';
  constructor(message: string) {
    super(ConnectionRefuseReason.Malformed, message);
  }
}

/** A packet's first byte arrived but the rest did not within `packetTimeoutMs` (a stalled, or slow-loris, client). */
export class PacketTimeoutError extends ConnectionRefusedError {
  override name = 'PacketTimeoutError';
  constructor(readonly timeoutMs: number, readonly receivedBytes: number) {
    super(ConnectionRefuseReason.PacketTimeout, `MQTT packet incomplete ${timeoutMs} ms after its first byte (${receivedBytes} bytes received)`);
  }
}

/** Taking more bytes of this client's incomplete packet would exceed the broker-wide budget `maxIncompleteBytesTotal`. */
export class IncompleteBytesLimitError extends ConnectionRefusedError {
  override name = 'IncompleteBytesLimitError';
  constructor(readonly limit: number) {
    super(ConnectionRefuseReason.IncompleteBytes, `incomplete MQTT packets of all clients would exceed ${limit} bytes`);
  }
}

/** A TLS handshake on a TLS or secure WebSocket listener failed (`cause` says why); the connection never reached MQTT. */
export class TlsHandshakeError extends ConnectionRefusedError {
  override name = 'TlsHandshakeError';
  constructor(readonly source: string | undefined, options?: { cause?: unknown }) {
    const why = options?.cause instanceof Error ? (options.cause as Error & { reason?: string }).reason ?? options.cause.message : 'unknown reason';
    super(ConnectionRefuseReason.TlsHandshake, `TLS handshake with ${source ?? 'an unknown address'} failed: ${why}`);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** A new connection arrived while `maxConnections` were open; it is closed at once. */
export class TooManyConnectionsError extends ConnectionRefusedError {
  override name = 'TooManyConnectionsError';
  constructor(readonly limit: number) {
    super(ConnectionRefuseReason.TooManyConnections, `already ${limit} connections open (maxConnections)`);
  }
}

/** Why the broker refused a CONNECT (it answers with the CONNACK return code given). */
export const LoginRefuseReason = {
  /** Unknown username or wrong password (CONNACK 4). */
  BadCredentials: 'bad-credentials',
  /** No username or password given with `--auth` (CONNACK 4). */
  NoCredentials: 'no-credentials',
  /** The client id is a device's and the login is not that device, or it is in use by another login (CONNACK 5). */
  ClientIdNotPermitted: 'client-id-not-permitted',
  /** Empty client id with a persistent session [MQTT-3.1.3-8] (CONNACK 2). */
  EmptyClientId: 'empty-client-id',
  /** Too many recent failed logins from this address or for this username (CONNACK 5). */
  Throttled: 'throttled',
  /** Too many password checks already waiting (CONNACK 3, server unavailable: try later). */
  Busy: 'busy',
  /** Mutual TLS: no client certificate the broker's CA signed, and no other way to log in (CONNACK 5). */
  NoCertificate: 'no-certificate',
  /** A client certificate that does not name a client: no or several CN, no or unknown role OU, or one the CA did not sign (CONNACK 5). */
  BadCertificate: 'bad-certificate',
} as const;
export type LoginRefuseReason = (typeof LoginRefuseReason)[keyof typeof LoginRefuseReason];

/** A refused CONNECT; `returnCode` is the CONNACK code Aedes sends before closing [MQTT-3.2.2-5]. */
export class LoginRefusedError extends FedmqError {
  override name = 'LoginRefusedError';
  constructor(
    readonly reason: LoginRefuseReason,
    readonly returnCode: 2 | 3 | 4 | 5,
    readonly clientId: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Why the broker refused a subscription. */
export const SubscribeRejectReason = {
  /** A device (`--auth`) asked for a `$` topic such as `$SYS/#` (SUBACK 0x80). */
  ReservedTopic: 'reserved-topic',
  /** A device (`--auth`) asked for a filter reaching another device's updates (SUBACK 0x80). */
  OthersUpdates: 'others-updates',
} as const;
export type SubscribeRejectReason = (typeof SubscribeRejectReason)[keyof typeof SubscribeRejectReason];

/**
 * A subscription a policy refused. With `suback: true` the broker answers SUBACK 0x80 for that
 * filter and the client stays connected; otherwise Aedes reports it as `clientError` and closes
 * the connection. (A filter that is not valid MQTT never reaches a policy: the packet guard
 * closes the connection with a `MalformedPacketError`.)
 */
export class SubscribeRejectedError extends FedmqError {
  override name = 'SubscribeRejectedError';
  readonly suback: boolean;
  constructor(
    readonly reason: SubscribeRejectReason,
    readonly filter: string,
    readonly clientId: string | undefined,
    message: string,
    options: { suback: boolean },
  ) {
    super(message);
    this.suback = options.suback;
  }
}
