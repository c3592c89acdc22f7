import { PublishRejectedError, PublishRejectReason } from '../errors.js';
import type { AuthorizePublishHook } from './types.js';

/** Topic levels a device owns: `fedmq/v1/{fleet}/{kind}/{deviceId}` (DESIGN.md, Topics). */
const DEVICE_OWNED_KINDS: ReadonlySet<string> = new Set(['update', 'status']);

/**
 * The device id that alone may publish to `topic`, or `undefined` when the topic is not
 * device-owned. Deeper topics under `update/{id}/` and `status/{id}/` belong to the same
 * device, so nobody can slip a message beneath another device's topic either.
 */
export function deviceTopicOwner(topic: string): string | undefined {
  const levels = topic.split('/');
  if (levels.length < 5 || levels[0] !== 'fedmq' || levels[1] !== 'v1') return undefined;
  return DEVICE_OWNED_KINDS.has(levels[3] ?? '') ? levels[4] : undefined;
}

/**
 * The default publish policy:
 * - topics starting with `$` are the server's [MQTT-4.7.2-1]; clients may not publish
 *   there (Aedes only guards `$SYS/`);
 * - a device's `update/{id}` and `status/{id}` may be published only by the client whose
 *   id is `{id}`, so one device cannot forge another's update or presence.
 *
 * Aedes calls this hook for each PUBLISH a client sends and again for its last will when
 * the will fires (not at CONNECT). A device's will goes to its own `status/{id}`, which
 * passes. For a will left behind by a dead broker instance Aedes passes `client = null`;
 * the will then still carries the `clientId` it was stored with.
 *
 * Refusing closes the connection without telling the client [MQTT-3.3.5-2].
 */
export const authorizePublish: AuthorizePublishHook = (client, packet, done) => {
  const topic = packet.topic;
  const publisher = client?.id ?? (packet as { clientId?: string }).clientId;
  if (topic.startsWith('$')) {
    done(
      new PublishRejectedError(
        PublishRejectReason.ReservedTopic,
        topic,
        publisher,
        `topics starting with '$' are reserved for the broker: ${topic}`,
      ),
    );
    return;
  }
  const owner = deviceTopicOwner(topic);
  if (owner !== undefined && owner !== publisher) {
    done(
      new PublishRejectedError(
        PublishRejectReason.NotOwner,
        topic,
        publisher,
        `client ${publisher ?? '(unknown)'} may not publish to device ${owner}'s topic ${topic}`,
      ),
    );
    return;
  }
  done(null);
};
