import { Duplex, Transform, pipeline, type TransformCallback } from 'node:stream';
import { invalidFilter } from './hooks/mqttRules.js';
import type { Clock } from '../protocol/index.js';
import {
  ConnectionRefusedError,
  IncompleteBytesLimitError,
  MalformedPacketError,
  PacketTimeoutError,
  PacketTooLargeError,
} from './errors.js';

/**
 * The largest Remaining Length of a CONNECT: a 3.1 variable header (12 bytes), five strings or
 * binaries of at most 65535 bytes each with their 2-byte lengths (client id, will topic, will
 * message, username, password) and, for MQTT 5, two property blocks of 64 KiB. Aedes speaks
 * 3.1 and 3.1.1 only (it refuses 5 with CONNACK 1), so this is generous.
 */
export const MAX_CONNECT_REMAINING_LENGTH = 12 + 5 * (2 + 65_535) + 2 * 65_536;

const PacketType = { Connect: 1, Publish: 3, Subscribe: 8, Unsubscribe: 10 } as const;

const State = { Header: 0, Length: 1, Body: 2 } as const;
type State = (typeof State)[keyof typeof State];

/** Bytes held by incomplete packets of every connection together, against one limit. */
export class IncompleteBytesBudget {
  private held = 0;
  constructor(readonly limit: number) {}

  /** Takes `bytes` more; false (and nothing taken) when that would cross the limit. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held -= bytes;
  }

  get bytes(): number {
    return this.held;
  }
}

export interface PacketGuardLimits {
  /** Largest Remaining Length accepted once a client is past its CONNECT. */
  readonly maxRemainingLength: number;
  /** A packet must be complete this long after its first byte. */
  readonly timeoutMs: number;
  /** Where that time is measured. */
  readonly clock: Clock;
  /** Shared by every connection of the broker. */
  readonly budget: IncompleteBytesBudget;
  /** Told of every connection the guard cuts, before Aedes hears of it. */
  readonly onRefuse: (error: ConnectionRefusedError) => void;
}

// Decodes strictly: invalid UTF-8, overlong forms and encoded UTF-16 surrogates
// (U+D800..U+DFFF) throw [MQTT-1.5.3-1].
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why `bytes` is not an MQTT UTF-8 string, or undefined when it is one. */
function badString(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'is not well-formed UTF-8 (or encodes a UTF-16 surrogate) [MQTT-1.5.3-1]';
  }
  return text.includes('\u0000') ? 'contains U+0000 [MQTT-1.5.3-2]' : undefined;
}

/**
 * The strings of a SUBSCRIBE (after its packet identifier: length, filter, options byte) or an
 * UNSUBSCRIBE (length, filter); a description of the first bad one, or undefined.
 */
function badFilters(body: Buffer, optionsByte: boolean): string | undefined {
  let at = 2;
  while (at + 2 <= body.length) {
    const length = body.readUInt16BE(at);
    const end = at + 2 + length;
    if (end > body.length) return undefined; // truncated: mqtt-packet reports it
    const filter = body.subarray(at + 2, end);
    const why = badString(filter);
    if (why) return `topic filter ${why}`;
    // Checked here too, where every filter of the packet is at hand: Aedes's own check lets
    // `a+/b` through and closes for `a/#/b` without saying why.
    const wildcards = invalidFilter(filter.toString('utf8'));
    if (wildcards) return `topic filter ${wildcards}`;
    at = end + (optionsByte ? 1 : 0);
  }
  return undefined;
}

/**
 * Passes MQTT bytes through unchanged while reading each fixed header, and cuts the connection
 * (with a typed {@link ConnectionRefusedError}) as soon as:
 * - a packet announces a Remaining Length over the limit (without this the MQTT parser buffers
 *   a whole packet before anyone looks at it, up to 256 MiB per client);
 * - the first packet is not a CONNECT [MQTT-3.1.0-1], or a CONNECT is longer than any CONNECT
 *   can be, so a client that has not logged in holds at most ~450 KiB;
 * - a packet is not complete `timeoutMs` after its first byte (a stalled partial PUBLISH would
 *   otherwise hold its bytes for as long as the client likes, keepalive 0 included);
 * - taking more bytes of an incomplete packet would cross the broker-wide budget;
 * - a PUBLISH topic or a SUBSCRIBE/UNSUBSCRIBE filter is not well-formed UTF-8 or holds U+0000
 *   [MQTT-1.5.3-1, MQTT-1.5.3-2] (mqtt-packet would decode it with replacement characters), or a
 *   filter has a wildcard that does not fill its level [MQTT-4.7.1-2, MQTT-4.7.1-3]: a protocol
 *   violation closes the connection [MQTT-4.8.0-1].
 * The check runs before the chunk completing the string is passed on, so the parser never
 * sees a whole refused packet.
 */
class PacketGuard extends Transform {
  private state: State = State.Header;
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;
  private packets = 0;
  /** Bytes of the current, incomplete packet received so far, taken from the budget. */
  private held = 0;
  private startedAt = 0;
  /** Ends the current packet's timeout wait. */
  private timer: AbortController | undefined;
  private timerPacket = -1;
  /** Body bytes kept to check strings: PUBLISH up to the end of its topic, (UN)SUBSCRIBE whole. */
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private keepUntil = 0;

  constructor(private readonly limits: PacketGuardLimits) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const error = this.scan(chunk);
    if (error) {
      this.limits.onRefuse(error);
      done(error);
      return;
    }
    done(null, chunk);
  }

  private scan(chunk: Buffer): ConnectionRefusedError | undefined {
    let i = 0;
    let consumed = 0;
    while (i < chunk.length) {
      if (this.state === State.Header) {
        // One byte: packet type and flags [MQTT-2.2].
        this.type = (chunk[i] ?? 0) >> 4;
        if (this.packets === 0 && this.type !== PacketType.Connect) {
          return new MalformedPacketError('the first packet of a connection must be CONNECT [MQTT-3.1.0-1]');
        }
        this.packets += 1;
        i += 1;
        consumed = 1;
        this.held = 0;
        this.startedAt = this.limits.clock.now();
        this.state = State.Length;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === State.Length) {
        // Remaining Length: 1 to 4 bytes, 7 bits each, low bits first [MQTT-2.2.3].
        const byte = chunk[i] ?? 0;
        i += 1;
        consumed += 1;
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes += 1;
        if ((byte & 0x80) !== 0) {
          if (this.lengthBytes === 4) return new MalformedPacketError('Remaining Length longer than 4 bytes');
          continue;
        }
        const limit = this.type === PacketType.Connect ? Math.min(MAX_CONNECT_REMAINING_LENGTH, this.limits.maxRemainingLength) : this.limits.maxRemainingLength;
        if (this.length > limit) return new PacketTooLargeError(this.length, limit);
        this.bodyLeft = this.length;
        this.kept = [];
        this.keptBytes = 0;
        const checked = this.type === PacketType.Publish || this.type === PacketType.Subscribe || this.type === PacketType.Unsubscribe;
        this.keepUntil = !checked ? 0 : this.type === PacketType.Publish ? Math.min(2, this.length) : this.length;
        if (this.length === 0) this.finishPacket(consumed);
        else this.state = State.Body;
        consumed = this.length === 0 ? 0 : consumed;
      } else {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        const error = this.keep(chunk, i, take);
        if (error) return error;
        i += take;
        consumed += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) {
          this.finishPacket(consumed);
          consumed = 0;
        }
      }
    }
    if (this.state !== State.Header) {
      if (!this.limits.budget.take(consumed)) return new IncompleteBytesLimitError(this.limits.budget.limit);
      this.held += consumed;
      this.armTimer();
    } else {
      this.disarmTimer();
    }
    return undefined;
  }

  /** The packet that started `consumed` bytes ago in this chunk is complete. */
  private finishPacket(_consumed: number): void {
    this.limits.budget.release(this.held);
    this.held = 0;
    this.kept = [];
    this.keptBytes = 0;
    this.state = State.Header;
  }

  /** Keeps the body bytes `chunk[from, from + count)` that strings are checked in; checks them once all are in. */
  private keep(chunk: Buffer, from: number, count: number): ConnectionRefusedError | undefined {
    if (this.keptBytes >= this.keepUntil) return undefined;
    const part = chunk.subarray(from, from + Math.min(count, this.keepUntil - this.keptBytes));
    this.kept.push(part);
    this.keptBytes += part.length;
    if (this.keptBytes < this.keepUntil) return undefined;
    const body = this.kept.length === 1 ? this.kept[0]! : Buffer.concat(this.kept);
    if (this.type === PacketType.Publish && this.keepUntil === 2 && this.length >= 2) {
      // The topic's length is in: keep on to the end of the topic.
      this.keepUntil = Math.min(2 + body.readUInt16BE(0), this.length);
      this.kept = [body];
      const rest = count - part.length;
      return rest > 0 ? this.keep(chunk, from + part.length, rest) : undefined;
    }
    this.kept = [];
    const why = this.type === PacketType.Publish ? badString(body.subarray(2)) : badFilters(body, this.type === PacketType.Subscribe);
    if (why === undefined) return undefined;
    return new MalformedPacketError(this.type === PacketType.Publish ? `PUBLISH topic ${why}` : why);
  }

  /** A timer for the current packet, from its first byte. */
  private armTimer(): void {
    if (this.timerPacket === this.packets) return;
    this.disarmTimer();
    this.timerPacket = this.packets;
    const timer = new AbortController();
    this.timer = timer;
    void this.limits.clock.sleepUntil(this.startedAt + this.limits.timeoutMs, timer.signal).then(() => {
      if (timer.signal.aborted) return;
      const error = new PacketTimeoutError(this.limits.timeoutMs, this.held);
      this.limits.onRefuse(error);
      this.destroy(error);
    });
  }

  private disarmTimer(): void {
    this.timer?.abort();
    this.timer = undefined;
    this.timerPacket = -1;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.disarmTimer();
    this.limits.budget.release(this.held);
    this.held = 0;
    callback(error);
  }
}

/**
 * `conn` with its incoming bytes checked by a {@link PacketGuard}: what Aedes reads comes
 * through the guard, what it writes goes straight to `conn`, and destroying the result
 * destroys `conn`. A refused connection destroys both with a {@link ConnectionRefusedError},
 * which Aedes reports as `clientError` or `connectionError`.
 */
export function guardPackets(conn: Duplex, limits: PacketGuardLimits): Duplex {
  const guard = new PacketGuard(limits);
  // The error reaches Aedes through the guarded stream; nothing to do here.
  pipeline(conn, guard, () => undefined);
  return Duplex.from({ readable: guard, writable: conn });
}
