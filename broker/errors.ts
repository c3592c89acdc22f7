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

/** A listener (TCP or WebSocket) could not bind its port. */
export class BrokerListenError extends FedmqError {
  override name = 'BrokerListenError';
  constructor(
    readonly listener: 'tcp' | 'ws',
    readonly host: string,
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot listen for ${listener === 'tcp' ? 'MQTT' : 'MQTT over WebSocket'} on ${host}:${port}${reason}`, options);
  }
}

/** A client announced an MQTT packet larger than the broker accepts; its connection is cut. */
export class PacketTooLargeError extends FedmqError {
  override name = 'PacketTooLargeError';
  constructor(
    /** Remaining Length the client announced, bytes. */
    readonly size: number,
    readonly limit: number,
  ) {
    super(`MQTT packet of ${size} bytes exceeds the broker's limit of ${limit} bytes`);
  }
}

/** The bytes on a connection are not a valid MQTT packet stream. */
export class MalformedPacketError extends FedmqError {
  override name = 'MalformedPacketError';
}
