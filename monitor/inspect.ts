import { Decoder } from 'cbor-x';
import { parseCodec } from '../protocol/index.js';
import { printable, printableJson } from './printable.js';

/** What a payload turned out to be, and a JSON-ready rendering of it. */
export interface Inspected {
  format: 'cbor' | 'json' | 'text' | 'binary' | 'empty';
  value: unknown;
}

export interface InspectOptions {
  /** The model's parameter count (from the `task` message), to decode deltas and weights for their L2 norm. */
  paramCount?: number;
  /** Byte arrays up to this size are shown in hex; larger ones are summarised. @default 32 */
  maxInlineBytes?: number;
  /** Numeric arrays up to this length are shown whole; longer ones are summarised. @default 16 */
  maxInlineNumbers?: number;
}

// Plain maps, no records: the way fedmq encodes (protocol/wire.ts).
const cbor = new Decoder({ mapsAsObjects: true, useRecords: false });
const text = new TextDecoder('utf-8', { fatal: true });
/** Payloads larger than this are not decoded for display. */
const MAX_INSPECT_BYTES = 64 * 1024 * 1024;

/**
 * Renders a payload as readable JSON: CBOR decoded, byte strings and typed arrays summarised
 * as length and L2 norm (a model update's delta is decoded with its codec when the model size
 * is known, so its norm is the update's own), `$SYS` and other text as text.
 */
export function inspectPayload(topic: string, payload: Uint8Array, options: InspectOptions = {}): Inspected {
  if (payload.byteLength === 0) return { format: 'empty', value: null };
  if (payload.byteLength > MAX_INSPECT_BYTES) return { format: 'binary', value: { $bytes: payload.byteLength } };
  if (!topic.startsWith('$')) {
    try {
      const decoded: unknown = cbor.decode(payload);
      return { format: 'cbor', value: summarise(decoded, options, decoded) };
    } catch {
      // Not CBOR: fall through to text or bytes.
    }
  }
  try {
    const decoded = text.decode(payload);
    // Aedes' `$SYS/{id}/new/subscribes` and many other brokers' and tools' payloads are JSON.
    if (/^\s*[[{]/.test(decoded)) {
      try {
        return { format: 'json', value: JSON.parse(decoded) as unknown };
      } catch {
        // Text that merely starts like JSON.
      }
    }
    return { format: 'text', value: decoded };
  } catch {
    return { format: 'binary', value: bytesSummary(payload, options) };
  }
}

/**
 * One message as `fedmq monitor --topics` prints it: a readable line, or an NDJSON object with
 * `json`. Topic and payload come from the network: neither line holds a control character
 * (escaped as `\x1b` in the readable line, as `\u001b` in JSON, which parses back to the same strings).
 */
export function topicLine(
  message: { topic: string; payload: Uint8Array; retained: boolean; at: number },
  options: InspectOptions & { json?: boolean } = {},
): string {
  const { value, format } = inspectPayload(message.topic, message.payload, options);
  if (options.json) {
    return printableJson({ ts: message.at, topic: message.topic, retained: message.retained, bytes: message.payload.byteLength, format, payload: value });
  }
  const time = new Date(message.at).toISOString().slice(11, 23);
  const body = format === 'text' ? printableJson(value).slice(1, -1) : printableJson(value);
  return `${time} ${printable(message.topic)}${message.retained ? ' [retained]' : ''} (${message.payload.byteLength} B) ${body}`;
}

type Obj = Record<string, unknown>;

function summarise(value: unknown, o: InspectOptions, root: unknown, key?: string): unknown {
  if (value instanceof Uint8Array) return bytesField(value, o, root, key);
  if (ArrayBuffer.isView(value)) return numbersSummary(value as unknown as ArrayLike<number | bigint>, o, value.constructor.name);
  if (Array.isArray(value)) {
    if (value.length > (o.maxInlineNumbers ?? 16) && value.every((x) => typeof x === 'number')) {
      return numbersSummary(value as number[], o, 'Array');
    }
    return value.map((x) => summarise(x, o, root));
  }
  if (value instanceof Map) return summarise(Object.fromEntries(value), o, root);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'object' && value !== null) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) out[k] = summarise(v, o, root, k);
    return out;
  }
  return value;
}

/** A byte string; the weights or delta of a fedmq message are decoded for their norm. */
function bytesField(bytes: Uint8Array, o: InspectOptions, root: unknown, key: string | undefined): unknown {
  const summary = bytesSummary(bytes, o);
  if (typeof summary === 'string' || o.paramCount === undefined || typeof root !== 'object' || root === null) return summary;
  const message = root as Obj;
  const codec = typeof message.codec === 'string' ? message.codec : undefined;
  const carriesVector =
    (key === 'delta' && (message.type === 'update' || message.type === 'globalDelta')) || (key === 'weights' && message.type === 'global');
  if (!carriesVector || codec === undefined) return summary;
  try {
    // eslint-disable-next-line no-restricted-syntax -- each inspected message names its own codec
    const values = parseCodec(codec).decode(bytes, o.paramCount);
    return { ...summary, codec, values: values.length, l2: round(l2(values)), maxAbs: round(maxAbs(values)) };
  } catch (error) {
    return { ...summary, codec, error: (error as Error).message };
  }
}

function bytesSummary(bytes: Uint8Array, o: InspectOptions): string | { $bytes: number } {
  if (bytes.byteLength <= (o.maxInlineBytes ?? 32)) return `0x${hex(bytes)}`;
  return { $bytes: bytes.byteLength };
}

function numbersSummary(values: ArrayLike<number | bigint>, o: InspectOptions, type: string): unknown {
  if (typeof values[0] === 'bigint') return { $typed: type, length: values.length };
  const numbers = values as ArrayLike<number>;
  if (numbers.length <= (o.maxInlineNumbers ?? 16)) return Array.from(numbers, (x) => (Number.isFinite(x) ? x : String(x)));
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < numbers.length; i++) {
    const x = numbers[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { $typed: type, length: numbers.length, l2: round(l2(numbers)), min, max };
}

/** Euclidean norm, accumulated in float64. */
export function l2(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  return Math.sqrt(sum);
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

function round(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : x;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
