import { Decoder } from 'cbor-x';
import {
  DEVICE_MESSAGE_TYPES,
  DecodeError,
  DecodeReason,
  decodeMessage,
  fleetTopics,
  parseTopic,
  type Body,
  type MessageType,
  type MetricsMessage,
  type RoundPrivacy,
  type TaskMessage,
} from '../protocol/index.js';
import { DeviceTable, type DeviceView } from './devices.js';
import { SIGNED_TOPIC_KINDS, SignatureTracker, type MonitorTrust, type SignatureView, type SignedTopicKind } from './signatures.js';
import { boundedFederated, boundedRecord, type EvaluationView } from './evaluation.js';
import { RoundTracker, type PhaseView, type RoundView } from './round.js';
import { SysTracker, type BrokerView } from './sys.js';
import { TrafficMeter, type FamilyTraffic, type TopicFamily } from './traffic.js';

/** One closed round, from the aggregator's `metrics` message. */
export interface RoundHistoryEntry extends Body<MetricsMessage> {
  /** Monitor time the metrics arrived. */
  at: number;
}

/** What the fleet learns: the retained `task` message without its envelope. */
export type TaskView = Body<TaskMessage>;

export interface GlobalView {
  version: number;
  round: number;
  codec: string;
  /** Payload bytes of the retained global. */
  bytes: number;
  at: number;
}

export interface ConnectionView {
  state: 'connecting' | 'connected' | 'reconnecting' | 'closed';
  url: string;
  /** The last connection error, if any. */
  error?: string;
  since: number;
}

/** Everything the views show, as plain JSON (what `fedmq monitor --json` prints). */
export interface MonitorSnapshot {
  ts: number;
  fleet: string;
  connection: ConnectionView;
  broker: BrokerView;
  task: TaskView | null;
  global: GlobalView | null;
  round: RoundView | null;
  /** An evaluate or statistics phase: round messages that ask for something other than training. */
  phase: PhaseView | null;
  /** The evaluation (federated, central) of the last closed round that reported one. */
  evaluation: EvaluationView | null;
  devices: { total: number; online: number; training: number; busy: number; offline: number; unknown: number; list: DeviceView[] };
  history: RoundHistoryEntry[];
  traffic: Record<string, FamilyTraffic>;
  /** Whether the fleet's task, global and round messages verify (monitor/signatures.ts). */
  signatures: SignatureView;
  /** Messages on fleet topics that failed validation. */
  invalid: { count: number; last?: { topic: string; error: string; at: number } };
  /** `--dp`: the privacy spent as of the last closed round that reported it. */
  privacy?: RoundPrivacy & { round: number };
}

export interface FleetStateOptions {
  /** @default 'default' */
  fleet?: string;
  /** Broker URL shown in the views. @default '' */
  url?: string;
  /** Closed rounds kept. @default 10_000 */
  maxHistory?: number;
  /** The aggregator's key to check signed messages with; without one they show as `unverified`. */
  trust?: MonitorTrust | null;
  /** Said in the view when there is no `trust` (e.g. the browser has no Ed25519). */
  trustNote?: string;
}

export const DEFAULT_MAX_HISTORY = 10_000;
/** Status messages are small; anything bigger is not one. */
const MAX_STATUS_BYTES = 64 * 1024;

/**
 * The fleet as seen from its MQTT traffic: pure state, fed message by message with the
 * time of arrival, so it can be driven by a live client, a recording or a test alike.
 * It reads only: nothing here publishes.
 */
export class FleetState {
  readonly fleet: string;
  private readonly prefix: string;
  private readonly devices = new DeviceTable();
  private readonly rounds = new RoundTracker();
  private readonly sys = new SysTracker();
  private readonly traffic = new TrafficMeter();
  private readonly signatures: SignatureTracker;
  private readonly history = new Map<number, RoundHistoryEntry>();
  private readonly maxHistory: number;
  private task: TaskView | null = null;
  private global: GlobalView | null = null;
  private conn: ConnectionView;
  private invalidCount = 0;
  private lastInvalid: { topic: string; error: string; at: number } | undefined;

  constructor(options: FleetStateOptions = {}) {
    const topics = fleetTopics(options.fleet);
    this.fleet = topics.fleet;
    this.prefix = `${topics.prefix}/`;
    this.maxHistory = options.maxHistory ?? DEFAULT_MAX_HISTORY;
    this.signatures = new SignatureTracker(this.fleet, options.trust ?? null, options.trustNote);
    this.conn = { state: 'connecting', url: options.url ?? '', since: 0 };
  }

  /** The model's parameter count, once the retained `task` arrived (to decode deltas for display). */
  get paramCount(): number | undefined {
    return this.task?.paramCount;
  }

  connection(state: ConnectionView['state'], now: number, error?: string): void {
    const keep = state === this.conn.state ? this.conn.since : now;
    this.conn = { state, url: this.conn.url, since: keep, ...(error !== undefined && { error }) };
  }

  /** Whether the broker granted `$SYS/#`. */
  sysSubscription(granted: boolean): void {
    this.sys.subscription(granted);
  }

  /** Feeds one message as received; `retained` is the PUBLISH retain flag. */
  ingest(topic: string, payload: Uint8Array, retained: boolean, now: number): void {
    this.traffic.record(familyOf(topic, this.prefix), payload.byteLength, now);
    if (topic.startsWith('$SYS/')) {
      const { connected } = this.sys.message(topic, payload, now);
      if (connected !== undefined) this.devices.seen(connected, now);
      return;
    }
    const parsed = parseTopic(topic);
    if (!parsed || parsed.fleet !== this.fleet) return;
    if ((SIGNED_TOPIC_KINDS as readonly string[]).includes(parsed.kind) && payload.byteLength > 0) this.signatures.observe(parsed.kind as SignedTopicKind, payload, now);
    try {
      switch (parsed.kind) {
        case 'status':
          if (payload.byteLength === 0) {
            this.devices.remove(parsed.deviceId);
          } else {
            const status = this.decode('status', payload, MAX_STATUS_BYTES);
            if (status.deviceId !== parsed.deviceId) throw new DecodeError('bad-field', `status of ${status.deviceId} on ${topic}`);
            this.devices.status(status, retained, now);
          }
          break;
        case 'update':
          this.onUpdate(parsed.deviceId, payload, now);
          break;
        case 'round':
          if (payload.byteLength > 0) {
            const round = this.decode('round', payload);
            // Round numbers only go down when an aggregator started over.
            if (round.round < (this.rounds.current ?? 0)) this.history.clear();
            this.rounds.round(round, retained, now);
          }
          break;
        case 'metrics':
          if (payload.byteLength > 0) this.onMetrics(this.decode('metrics', payload), now);
          break;
        case 'task':
          if (payload.byteLength > 0) {
            const { v: _v, type: _t, ...task } = this.decode('task', payload);
            // The aggregator publishes its task once, as a run starts: a live one begins a new history.
            if (!retained) this.history.clear();
            // Published again with the fleet's standardisation: the statistics phase is over.
            if (typeof task.task.preprocessing?.standardize === 'object') this.rounds.statisticsApplied();
            this.task = task;
            this.rounds.setMode(task.mode ?? 'sync', task.buffer ?? 1, !retained);
          }
          break;
        case 'global':
          if (payload.byteLength > 0) {
            const g = this.decode('global', payload);
            this.global = { version: g.version, round: g.round, codec: g.codec, bytes: payload.byteLength, at: now };
          }
          break;
        case 'global-delta':
          break;
      }
    } catch (error) {
      this.invalid(topic, error, now);
    }
  }

  snapshot(now: number): MonitorSnapshot {
    return {
      ts: now,
      fleet: this.fleet,
      connection: { ...this.conn },
      broker: this.sys.view(),
      task: this.task && { ...this.task },
      global: this.global && { ...this.global },
      round: this.rounds.view(now),
      phase: this.rounds.phaseView(now),
      evaluation: this.lastEvaluation(),
      devices: { ...this.devices.counts(), list: this.devices.list() },
      history: [...this.history.values()].sort((a, b) => a.round - b.round),
      traffic: this.traffic.snapshot(now),
      signatures: this.signatures.view(),
      invalid: { count: this.invalidCount, ...(this.lastInvalid && { last: { ...this.lastInvalid } }) },
      ...this.lastPrivacy(),
    };
  }

  private lastPrivacy(): Pick<MonitorSnapshot, 'privacy'> {
    let last: RoundHistoryEntry | undefined;
    for (const e of this.history.values()) if (e.privacy && (!last || e.round > last.round)) last = e;
    return last?.privacy ? { privacy: { round: last.round, ...last.privacy } } : {};
  }

  /** `update/{id}` carries updates, and the answers to evaluate and statistics rounds. */
  private onUpdate(topicId: string, payload: Uint8Array, now: number): void {
    let message;
    try {
      message = decodeDeviceMessage(payload);
    } catch (error) {
      this.devices.seen(topicId, now);
      this.rounds.update(topicId, null, payload.byteLength);
      this.invalid(`${this.prefix}update/${topicId}`, error, now);
      return;
    }
    // Only a payload naming its own topic's device updates that device's row.
    const own = message.deviceId === topicId;
    switch (message.type) {
      case 'update':
        if (own) this.devices.update(message, payload.byteLength, now);
        this.rounds.update(topicId, message, payload.byteLength);
        break;
      case 'evaluation':
        if (own) this.devices.evaluation(message, now);
        this.rounds.evaluation(topicId, message);
        break;
      case 'statistics':
        if (own) this.devices.seen(topicId, now);
        this.rounds.statistics(topicId, message);
        break;
      default:
        // A catch-up request or a secure-aggregation step: the device is there, nothing to tally.
        if (own) this.devices.seen(topicId, now);
    }
  }

  private onMetrics(m: ReturnType<typeof decodeMessage<'metrics'>>, now: number): void {
    const { v: _v, type: _t, central, federated, ...entry } = m;
    this.history.set(m.round, {
      ...entry,
      rejectedByReason: { ...m.rejectedByReason },
      // Metric names come from the network: at most 16 of each kept.
      ...(central && { central: boundedRecord(central) }),
      ...(federated && { federated: boundedFederated(federated) }),
      at: now,
    });
    if (this.history.size > this.maxHistory) {
      this.history.delete(Math.min(...this.history.keys()));
    }
    this.rounds.metrics(m);
  }

  private lastEvaluation(): EvaluationView | null {
    let last: RoundHistoryEntry | undefined;
    for (const e of this.history.values()) if ((e.federated || e.central) && (!last || e.round > last.round)) last = e;
    if (!last) return null;
    // The message's loss is central evaluation's when there is one.
    const central = last.central && { ...(Number.isFinite(last.loss) && { loss: last.loss }), ...last.central };
    return { round: last.round, ...(last.federated && { federated: boundedFederated(last.federated) }), ...(central && { central }) };
  }

  private decode<T extends MessageType>(type: T, payload: Uint8Array, maxBytes?: number): ReturnType<typeof decodeMessage<T>> {
    return decodeMessage(type, payload, maxBytes === undefined ? {} : { maxBytes });
  }

  private invalid(topic: string, error: unknown, now: number): void {
    this.invalidCount += 1;
    this.lastInvalid = { topic, error: error instanceof Error ? error.message : String(error), at: now };
  }
}

// Plain maps, as fedmq encodes (protocol/wire.ts).
const cbor = new Decoder({ mapsAsObjects: true, useRecords: false });

/**
 * A message on `update/{id}`: an update, an evaluation or statistics answer, or protocol traffic
 * (a catch-up `sync`, secure-aggregation steps). Decoded as an update first (the large and common
 * one, decoded once); only a payload of another type has its `type` peeked and is decoded again
 * with the validator of what a device may send. Anything else throws as before.
 */
export function decodeDeviceMessage(payload: Uint8Array): DeviceMessage {
  try {
    return decodeMessage('update', payload);
  } catch (error) {
    if (!(error instanceof DecodeError) || error.reason !== DecodeReason.BadType) throw error;
    const type = (cbor.decode(payload) as { type?: unknown }).type;
    if ((DEVICE_MESSAGE_TYPES as readonly unknown[]).includes(type)) return decodeMessage(DEVICE_MESSAGE_TYPES, payload);
    throw error;
  }
}

/** What a device may publish on `update/{id}`. */
export type DeviceMessage = ReturnType<typeof decodeMessage<(typeof DEVICE_MESSAGE_TYPES)[number]>>;

/** The family a topic's traffic is counted under. */
export function familyOf(topic: string, fleetPrefix: string): TopicFamily {
  if (topic.startsWith('$SYS/')) return '$SYS';
  if (!topic.startsWith(fleetPrefix)) return 'other';
  const kind = topic.slice(fleetPrefix.length).split('/', 1)[0];
  switch (kind) {
    case 'task':
    case 'global':
    case 'global-delta':
    case 'round':
    case 'update':
    case 'status':
    case 'metrics':
      return kind;
    default:
      return 'other';
  }
}
