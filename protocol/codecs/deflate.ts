import { Inflate, deflateSync } from 'fflate';
import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';
import { FormatId, HEADER_BYTES, expectSize, readHeader, writeHeader, type Codec } from './codec.js';

/** Bytes of the deflate header: the common 8, the inner size (u32) and the stream size (u32). */
const DEFLATE_HEADER_BYTES = HEADER_BYTES + 8;
/** Level 1..9 of fflate's DEFLATE; level 6 is zlib's default trade of time for size. */
export const DEFAULT_DEFLATE_LEVEL = 6;
/**
 * Compressed bytes handed to the inflater at a time. DEFLATE expands at most ~1032x (a
 * 258-byte match per 2 bits), so one step overshoots the size cap by at most ~4 MB before
 * the decoder notices and stops. Smaller steps stop bombs sooner but cost every legitimate
 * update more (fflate regrows its window buffer on every push): 4 KB rejects a 64 MB bomb
 * in well under 200 ms, where inflating it whole takes a second, and adds ~2 ms to a
 * 200 KB stream.
 */
const INFLATE_STEP = 4096;

/**
 * A lossless DEFLATE (RFC 1951, fflate) stage around another codec: the error bound and the
 * bias are the inner codec's. Layout after the header: the inner encoding's size (u32), the
 * stream's size (u32), then the raw DEFLATE stream of the inner encoding.
 *
 * Decompression bombs: the claimed inner size must be at most `inner.maxEncodedBytes(n)`,
 * and the stream is inflated a step at a time into a buffer of exactly that claimed size,
 * stopping with `too-large` as soon as it produces more, so a hostile update costs at most
 * the legitimate size in memory and time.
 */
export function deflateCodec(inner: Codec, level = DEFAULT_DEFLATE_LEVEL): Codec {
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`deflate level must be 1..9, got ${level}`);
  const deflateLevel = level as 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

  function inflate(bytes: Uint8Array, length: number): Uint8Array {
    const { aligned, view } = readHeader(bytes, FormatId.Deflate, length);
    if (aligned.byteLength < DEFLATE_HEADER_BYTES) throw new DecodeError(DecodeReason.Malformed, 'deflate update is truncated');
    const innerBytes = view.getUint32(HEADER_BYTES, true);
    const streamBytes = view.getUint32(HEADER_BYTES + 4, true);
    expectSize(aligned, DEFLATE_HEADER_BYTES + streamBytes);
    const cap = inner.maxEncodedBytes(length);
    if (innerBytes > cap) {
      throw new DecodeError(DecodeReason.TooLarge, `deflate update claims ${innerBytes} inflated bytes, ${inner.spec} of ${length} values needs at most ${cap}`);
    }
    if (innerBytes < HEADER_BYTES) throw new DecodeError(DecodeReason.Malformed, `deflate update claims ${innerBytes} inflated bytes, less than a header`);
    return inflateCapped(aligned.subarray(DEFLATE_HEADER_BYTES), innerBytes);
  }

  return {
    spec: `${inner.spec}+deflate`,
    description: `${inner.description}, then DEFLATE (lossless)`,

    encode(delta: Float32Array, rng: Rng): Uint8Array {
      const innerBytes = inner.encode(delta, rng);
      const stream = deflateSync(innerBytes, { level: deflateLevel });
      const out = new Uint8Array(DEFLATE_HEADER_BYTES + stream.byteLength);
      const view = new DataView(out.buffer);
      writeHeader(view, FormatId.Deflate, delta.length);
      view.setUint32(HEADER_BYTES, innerBytes.byteLength, true);
      view.setUint32(HEADER_BYTES + 4, stream.byteLength, true);
      out.set(stream, DEFLATE_HEADER_BYTES);
      return out;
    },

    decode(bytes, length) {
      return inner.decode(inflate(bytes, length), length);
    },

    accumulate(bytes, length, target, weight) {
      inner.accumulate(inflate(bytes, length), length, target, weight);
    },

    maxEncodedBytes(length) {
      // Stored blocks are the worst case: 5 bytes of block header per 65,535 bytes.
      const innerMax = inner.maxEncodedBytes(length);
      return DEFLATE_HEADER_BYTES + innerMax + 5 * Math.ceil((innerMax + 1) / 65535) + 8;
    },
  };
}

/**
 * Inflates a raw DEFLATE stream that must produce exactly `size` bytes, stopping as soon as it
 * produces more. fflate's one-shot `inflateSync` keeps decoding past a too-small output buffer
 * (dropping the bytes but spending the time), hence the streaming inflater fed step by step.
 */
export function inflateCapped(stream: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let produced = 0;
  const inflater = new Inflate((chunk) => {
    if (produced + chunk.byteLength > size) {
      throw new DecodeError(DecodeReason.TooLarge, `deflate stream inflates to more than the ${size} bytes it claims`);
    }
    out.set(chunk, produced);
    produced += chunk.byteLength;
  });
  try {
    if (stream.byteLength === 0) inflater.push(stream, true);
    for (let at = 0; at < stream.byteLength; at += INFLATE_STEP) {
      const end = Math.min(stream.byteLength, at + INFLATE_STEP);
      inflater.push(stream.subarray(at, end), end === stream.byteLength);
    }
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(DecodeReason.Malformed, `deflate stream is corrupt: ${(e as Error).message}`, { cause: e });
  }
  if (produced !== size) {
    throw new DecodeError(DecodeReason.Malformed, `deflate stream inflates to ${produced} bytes, it claims ${size}`);
  }
  return out;
}
