import { OptionsError } from './errors.js';

/** First level of every fedmq topic. */
export const TOPIC_ROOT = 'fedmq';
/** Version segment of every topic; bumped only with an incompatible message change. */
export const TOPIC_VERSION = 'v1';
export const DEFAULT_FLEET = 'default';

/**
 * Fleet and device ids become topic levels, so they must not contain the MQTT
 * separators and wildcards `/`, `+`, `#` [MQTT-4.7.1-1] or a leading `$` [MQTT-4.7.2-1].
 */
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function assertValidId(kind: 'fleet' | 'id', id: string): string {
  if (!isValidId(id)) {
    throw new OptionsError(kind, `"${id}" must be 1-64 characters of letters, digits, '_', '.', ':' or '-'`);
  }
  return id;
}

/** The topics of one fleet: `{TOPIC_ROOT}/{TOPIC_VERSION}/{fleet}/...`, `fedmq/v1/{fleet}/...` (DESIGN.md, Topics). */
export interface FleetTopics {
  readonly fleet: string;
  readonly prefix: string;
  readonly task: string;
  readonly global: string;
  /** Non-retained steps between consecutive globals (`--downlink delta:SPEC`). */
  readonly globalDelta: string;
  readonly round: string;
  readonly metrics: string;
  update(deviceId: string): string;
  status(deviceId: string): string;
  /** Aggregator -> one device (catch-ups); only that device may subscribe. */
  to(deviceId: string): string;
  /** `update/+`: what the aggregator subscribes to. */
  readonly allUpdates: string;
  /** `status/+`: presence of every device. */
  readonly allStatus: string;
  /** `#` under the prefix: what the monitor subscribes to. */
  readonly everything: string;
}

export function fleetTopics(fleet: string = DEFAULT_FLEET): FleetTopics {
  assertValidId('fleet', fleet);
  const prefix = `${TOPIC_ROOT}/${TOPIC_VERSION}/${fleet}`;
  return {
    fleet,
    prefix,
    task: `${prefix}/task`,
    global: `${prefix}/global`,
    globalDelta: `${prefix}/global-delta`,
    round: `${prefix}/round`,
    metrics: `${prefix}/metrics`,
    update: (id) => `${prefix}/update/${assertValidId('id', id)}`,
    status: (id) => `${prefix}/status/${assertValidId('id', id)}`,
    to: (id) => `${prefix}/to/${assertValidId('id', id)}`,
    allUpdates: `${prefix}/update/+`,
    allStatus: `${prefix}/status/+`,
    everything: `${prefix}/#`,
  };
}

/** The kinds of topic one device owns: `update/{id}` and `status/{id}`. */
export type DeviceTopicKind = 'update' | 'status';
const DEVICE_TOPIC_KINDS: ReadonlySet<string> = new Set<DeviceTopicKind>(['update', 'status']);
const FLEET_TOPIC_KINDS: ReadonlySet<string> = new Set(['task', 'global', 'global-delta', 'round', 'metrics']);
/** `to/{id}`: the aggregator's messages to one device, which alone may read them. */
export type AddressedTopicKind = 'to';

export type ParsedTopic =
  | { kind: 'task' | 'global' | 'global-delta' | 'round' | 'metrics'; fleet: string }
  | { kind: DeviceTopicKind | AddressedTopicKind; fleet: string; deviceId: string };

/** The levels of `topic` after `{TOPIC_ROOT}/{TOPIC_VERSION}/`, or null when it is not a fedmq topic. */
function fedmqLevels(topic: string): string[] | null {
  const levels = topic.split('/');
  if (levels[0] !== TOPIC_ROOT || levels[1] !== TOPIC_VERSION) return null;
  return levels.slice(2);
}

/** Splits a fedmq topic into its kind, fleet and device id; `null` for anything else. */
export function parseTopic(topic: string): ParsedTopic | null {
  const levels = fedmqLevels(topic);
  if (!levels) return null;
  const [fleet, kind, deviceId] = levels;
  if (fleet === undefined || kind === undefined || !isValidId(fleet)) return null;
  if (levels.length === 2 && FLEET_TOPIC_KINDS.has(kind)) {
    return { kind: kind as 'task' | 'global' | 'global-delta' | 'round' | 'metrics', fleet };
  }
  if (levels.length === 3 && (DEVICE_TOPIC_KINDS.has(kind) || kind === 'to') && deviceId !== undefined && isValidId(deviceId)) {
    return { kind: kind as DeviceTopicKind | AddressedTopicKind, fleet, deviceId };
  }
  return null;
}

/**
 * The device that alone may publish to `topic`: `{id}` for `fedmq/v1/{fleet}/update/{id}` and
 * `status/{id}`, and for any topic beneath them (`update/{id}/...`), so nobody can slip a
 * message under another device's topic either; `undefined` for a topic no device owns. Unlike
 * `parseTopic` it does not check the ids: a topic under `update/` with a malformed id is still
 * owned by that (impossible) id, so it is nobody's to publish to.
 */
export function deviceTopicOwner(topic: string): string | undefined {
  const levels = fedmqLevels(topic);
  if (!levels || levels.length < 3) return undefined;
  return DEVICE_TOPIC_KINDS.has(levels[1]!) ? levels[2] : undefined;
}

/**
 * Whether subscribing to the MQTT filter `filter` could deliver a message published on a
 * device's `kind` topic, `fedmq/v1/{any fleet}/{kind}/{id}` or beneath it, for an id that
 * `id` accepts. A `+` or `#` where the id goes is taken to match some accepted id.
 * `filterReachesDeviceTopics(filter, 'update', (id) => id !== own)`: could `filter` reach
 * another device's updates?
 */
export function filterReachesDeviceTopics(filter: string, kind: DeviceTopicKind | AddressedTopicKind, id: (deviceId: string) => boolean): boolean {
  const fits: ((level: string) => boolean)[] = [(l) => l === TOPIC_ROOT, (l) => l === TOPIC_VERSION, () => true, (l) => l === kind, id];
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#') return true; // matches this level's parent and everything under it
    if (i >= fits.length) return true; // a level beneath an accepted device's topic
    if (level !== '+' && !fits[i]!(level)) return false;
  }
  return levels.length >= fits.length;
}
