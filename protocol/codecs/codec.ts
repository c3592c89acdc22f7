import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';

/**
 * An update codec turns a flat `Float32Array` delta into bytes and back. Every codec's
 * bytes start with an 8-byte header: format id (u8), three reserved zero bytes, and the
 * element count (u32 little-endian), so a decoder can reject another codec's bytes or a
 * vector of the wrong model before reading anything else.
 */
export interface Codec {
  /** The spec string that names it on the command line and in the round message. */
  readonly spec: string;
  /** Worst-case absolute error per coordinate of `decode(encode(x))`, given x's chunk max. */
  readonly description: string;
  /** Encodes a delta; stochastic codecs draw from `rng`. The result is a fresh buffer. */
  encode(delta: Float32Array, rng: Rng): Uint8Array;
  /** Decodes and validates into a new vector of exactly `length` values. */
  decode(bytes: Uint8Array, length: number): Float32Array;
  /**
   * Adds `weight * decoded` into `target` without materialising the decoded vector.
   * Validates everything first: on error `target` is untouched.
   */
  accumulate(bytes: Uint8Array, length: number, target: Float64Array, weight: number): void;
  /**
   * The largest byte size a valid encoding of `length` values can have. `+deflate` caps
   * what it inflates at this, so a small message cannot expand into a huge buffer.
   */
  maxEncodedBytes(length: number): number;
  /**
   * True for `...+ef` specs: the device keeps the part of each delta the codec lost and adds
   * it to the next one (`ErrorFeedback`). Not a wire change: the aggregator ignores it.
   */
  readonly errorFeedback?: boolean;
}

export const HEADER_BYTES = 8;

/** Format ids in the first byte of every encoded update. */
export const FormatId = { F32: 1, Int8: 2, F16: 3, Int4: 4, Ternary: 5, TopK: 6, Deflate: 7 } as const;

/** Largest chunk size (values per scale) the chunked codecs accept on the wire. */
export const MAX_CHUNK = 1 << 24;

export function writeHeader(view: DataView, formatId: number, length: number): void {
  view.setUint8(0, formatId);
  view.setUint32(4, length, true);
}

/**
 * Checks the header and returns the bytes 4-byte aligned (copying only when the network
 * buffer is not), so float sections can be read through typed-array views.
 */
export function readHeader(bytes: Uint8Array, formatId: number, length: number): { aligned: Uint8Array; view: DataView } {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < HEADER_BYTES) {
    throw new DecodeError(DecodeReason.Malformed, `update of ${bytes?.byteLength ?? 0} bytes is shorter than its header`);
  }
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  const view = new DataView(aligned.buffer, aligned.byteOffset, aligned.byteLength);
  const id = view.getUint8(0);
  if (id !== formatId) {
    throw new DecodeError(DecodeReason.BadCodec, `update is in format ${id}, expected ${formatId}`);
  }
  const n = view.getUint32(4, true);
  if (n !== length) {
    throw new DecodeError(DecodeReason.BadLength, `update has ${n} values, the model has ${length}`);
  }
  return { aligned, view };
}

export function expectSize(bytes: Uint8Array, expected: number): void {
  if (bytes.byteLength !== expected) {
    throw new DecodeError(DecodeReason.BadLength, `update is ${bytes.byteLength} bytes, its header implies ${expected}`);
  }
}

/**
 * Reads the chunk size (u32) and the per-chunk float32 scales that follow the header in the
 * int8, int4 and ternary formats, and checks the total size against `valueBytes(length)`.
 * Scales must be finite and >= 0: a negative scale would flip every sign of its chunk.
 */
export function readChunkScales(
  aligned: Uint8Array,
  view: DataView,
  length: number,
  name: string,
  valueBytes: (length: number) => number,
): { chunk: number; scales: Float32Array; valuesAt: number } {
  if (aligned.byteLength < HEADER_BYTES + 4) throw new DecodeError(DecodeReason.Malformed, `${name} update is truncated`);
  const chunk = view.getUint32(HEADER_BYTES, true);
  if (chunk < 1 || chunk > MAX_CHUNK) throw new DecodeError(DecodeReason.Malformed, `${name} chunk size ${chunk} is out of range`);
  const chunks = Math.ceil(length / chunk);
  const scalesAt = HEADER_BYTES + 4;
  const valuesAt = scalesAt + chunks * 4;
  expectSize(aligned, valuesAt + valueBytes(length));
  const scales = new Float32Array(aligned.buffer, aligned.byteOffset + scalesAt, chunks);
  for (let c = 0; c < chunks; c++) {
    const s = scales[c]!;
    if (!Number.isFinite(s) || s < 0) throw new DecodeError(DecodeReason.NonFinite, `${name} scale ${c} is ${s}`);
  }
  return { chunk, scales, valuesAt };
}

/** max |x| over `delta[start..end)`, or throws `RangeError` for a non-finite value (a device bug, not network input). */
export function chunkMaxAbs(delta: Float32Array, start: number, end: number): number {
  let max = 0;
  let poison = 0; // stays 0 unless some value is NaN or infinite (0 * x is NaN for those)
  for (let i = start; i < end; i++) {
    const a = Math.abs(delta[i]!);
    poison += 0 * a;
    if (a > max) max = a;
  }
  if (poison !== 0) throw new RangeError(`delta has a non-finite value in ${start}..${end - 1}`);
  return max;
}

/** Validates a chunk size given in code or a spec (`int8@256`). */
export function checkChunkSize(chunk: number, name: string): number {
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_CHUNK) {
    throw new RangeError(`${name} chunk size must be an integer in 1..${MAX_CHUNK}, got ${chunk}`);
  }
  return chunk;
}
