import { PublishRejectedError, PublishRejectReason } from '../errors.js';
import type { AuthorizePublishHook } from './types.js';

/**
 * Wraps a publish policy so that payloads over `maxBytes` are refused before it runs.
 * It wraps whatever `authorizePublish` is configured, so `maxPayloadBytes` holds even when
 * a deployment replaces the default policy. The packet-size guard has already cut off
 * connections whose packets are far larger; this is the exact check.
 */
export function limitPayload(maxBytes: number, next: AuthorizePublishHook): AuthorizePublishHook {
  return (client, packet, done) => {
    const payload: unknown = packet.payload;
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : ((payload as Uint8Array | undefined)?.byteLength ?? 0);
    if (size > maxBytes) {
      const publisher = client?.id ?? (packet as { clientId?: string }).clientId;
      done(
        new PublishRejectedError(
          PublishRejectReason.TooLarge,
          packet.topic,
          publisher,
          `payload of ${size} bytes exceeds maxPayloadBytes ${maxBytes} on ${packet.topic}`,
        ),
      );
      return;
    }
    next(client, packet, done);
  };
}
