import { OptionsError } from './errors.js';

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

/** The topics of one fleet: `fedmq/v1/{fleet}/...` (DESIGN.md, Topics). */
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
  /** `update/+`: what the aggregator subscribes to. */
  readonly allUpdates: string;
  /** `status/+`: presence of every device. */
  readonly allStatus: string;
  /** `#` under the prefix: what the monitor subscribes to. */
  readonly everything: string;
}

export function fleetTopics(fleet: string = DEFAULT_FLEET): FleetTopics {
  assertValidId('fleet', fleet);
  const prefix = `fedmq/${TOPIC_VERSION}/${fleet}`;
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
    allUpdates: `${prefix}/update/+`,
    allStatus: `${prefix}/status/+`,
    everything: `${prefix}/#`,
  };
}

export type ParsedTopic =
  | { kind: 'task' | 'global' | 'global-delta' | 'round' | 'metrics'; fleet: string }
  | { kind: 'update' | 'status'; fleet: string; deviceId: string };

/** Splits a fedmq topic into its kind, fleet and device id; `null` for anything else. */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== 'fedmq' || parts[1] !== TOPIC_VERSION) return null;
  const fleet = parts[2];
  const kind = parts[3];
  if (fleet === undefined || !isValidId(fleet)) return null;
  if (parts.length === 4 && (kind === 'task' || kind === 'global' || kind === 'global-delta' || kind === 'round' || kind === 'metrics')) {
    return { kind, fleet };
  }
  const deviceId = parts[4];
  if (parts.length === 5 && (kind === 'update' || kind === 'status') && deviceId !== undefined && isValidId(deviceId)) {
    return { kind, fleet, deviceId };
  }
  return null;
}
