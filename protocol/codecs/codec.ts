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
}

export const HEADER_BYTES = 8;

/** Format ids in the first byte of every encoded update. */
export const FormatId = { F32: 1, Int8: 2 } as const;

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
