import { filterReachesDeviceTopics } from '../../protocol/topics.js';
import { PublishRejectedError, PublishRejectReason } from '../errors.js';
import type { AuthorizePublishHook } from './types.js';

function size(payload: unknown): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : ((payload as Uint8Array | undefined)?.byteLength ?? 0);
}

/** Whether `topic` is a device's update topic or beneath one (a topic name has no wildcards, so it matches itself as a filter). */
function isUpdateTopic(topic: string): boolean {
  return filterReachesDeviceTopics(topic, 'update', () => true);
}

/**
 * Wraps a publish policy with the broker's rules for retained messages, which hold whatever
 * policy is configured:
 * - no one retains an update (`update/{id}` or beneath): an update belongs to one round and
 *   one aggregator; a retained one would be served to every later subscriber;
 * - the retained payloads one client id keeps on the broker add up to at most `maxBytes`,
 *   counted from what it published: a retained message it replaces or clears (empty payload
 *   [MQTT-3.3.1-10]) stops counting, one kept after it left still counts.
 */
export function limitRetained(maxBytes: number, next: AuthorizePublishHook): AuthorizePublishHook {
  const stored = new Map<string, { owner: string; bytes: number }>();
  const usage = new Map<string, number>();
  const add = (owner: string, bytes: number): void => {
    const total = (usage.get(owner) ?? 0) + bytes;
    if (total === 0) usage.delete(owner);
    else usage.set(owner, total);
  };
  return (client, packet, done) => {
    if (!packet.retain) {
      next(client, packet, done);
      return;
    }
    const topic = packet.topic;
    const publisher = client?.id ?? (packet as { clientId?: string }).clientId ?? '';
    const bytes = size(packet.payload);
    if (bytes > 0 && isUpdateTopic(topic)) {
      done(new PublishRejectedError(PublishRejectReason.RetainNotPermitted, topic, publisher, `updates may not be retained: ${topic}`));
      return;
    }
    const previous = stored.get(topic);
    const after = (usage.get(publisher) ?? 0) - (previous?.owner === publisher ? previous.bytes : 0) + bytes;
    if (bytes > 0 && after > maxBytes) {
      done(new PublishRejectedError(
        PublishRejectReason.RetainedQuota, topic, publisher,
        `client ${publisher} would keep ${after} bytes of retained messages, over maxRetainedBytesPerClient ${maxBytes}`,
      ));
      return;
    }
    next(client, packet, (error) => {
      if (!error) {
        const current = stored.get(topic);
        if (current) add(current.owner, -current.bytes);
        if (bytes === 0) stored.delete(topic);
        else {
          stored.set(topic, { owner: publisher, bytes });
          add(publisher, bytes);
        }
      }
      done(error);
    });
  };
}
