import { deviceTopicOwner } from '../../protocol/topics.js';
import { PublishRejectedError, PublishRejectReason } from '../errors.js';
import type { AuthorizePublishHook } from './types.js';

// Which device owns a topic (`update/{id}`, `status/{id}` and anything beneath them) is the
// protocol's topic grammar: protocol/topics.ts.
export { deviceTopicOwner };

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
