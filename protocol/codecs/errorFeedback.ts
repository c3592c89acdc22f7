import { DecodeError, DecodeReason } from '../errors.js';
import type { Rng } from '../random.js';
import type { Codec } from './codec.js';

/** "FQEF": the first four bytes of a persisted residual. */
const MAGIC = 0x46455146;
const VERSION = 1;
const STATE_HEADER_BYTES = 12;

/**
 * Error feedback (Seide et al. 2014; Stich et al. 2018; Karimireddy et al. 2019), the device
 * side of a `+ef` codec: what the codec dropped from one update is added to the next, so
 * nothing is lost for good. Over T rounds the sum of what was sent equals the sum of the
 * true deltas minus the final residual, which stays bounded for top-k and the quantisers.
 *
 * One instance per device and model; its state survives restarts through `toBytes` /
 * `fromBytes` (see `device-agent/residualStore.ts`).
 */
export class ErrorFeedback {
  /** What was left out so far: compensated delta minus what the aggregator will decode. */
  readonly residual: Float32Array;

  constructor(length: number | Float32Array) {
    if (typeof length === 'number') {
      if (!Number.isInteger(length) || length < 0) throw new RangeError(`residual length must be a non-negative integer, got ${length}`);
      this.residual = new Float32Array(length);
    } else {
      this.residual = length;
    }
  }

  get length(): number {
    return this.residual.length;
  }

  /**
   * Encodes `delta + residual` and keeps what the encoding lost as the next residual. If the
   * codec throws (a non-finite delta), the residual is left as it was.
   */
  encode(codec: Codec, delta: Float32Array, rng: Rng): Uint8Array {
    const n = this.residual.length;
    if (delta.length !== n) throw new RangeError(`delta has ${delta.length} values, the residual ${n}`);
    const compensated = new Float32Array(n);
    for (let i = 0; i < n; i++) compensated[i] = delta[i]! + this.residual[i]!;
    const bytes = codec.encode(compensated, rng);
    const sent = codec.decode(bytes, n);
    for (let i = 0; i < n; i++) this.residual[i] = compensated[i]! - sent[i]!;
    return bytes;
  }

  /** Forgets the residual (e.g. when the global model was replaced rather than stepped). */
  reset(): void {
    this.residual.fill(0);
  }

  /** Persisted form: "FQEF", version (u8), 3 zero bytes, length (u32 LE), residual (f32 LE). */
  toBytes(): Uint8Array {
    const n = this.residual.length;
    const out = new Uint8Array(STATE_HEADER_BYTES + n * 4);
    const view = new DataView(out.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint8(4, VERSION);
    view.setUint32(8, n, true);
    new Float32Array(out.buffer, STATE_HEADER_BYTES, n).set(this.residual);
    return out;
  }

  /** Reads `toBytes` output; throws `DecodeError` on anything else (a corrupt file). */
  static fromBytes(bytes: Uint8Array): ErrorFeedback {
    if (bytes.byteLength < STATE_HEADER_BYTES) throw new DecodeError(DecodeReason.Malformed, 'residual state is truncated');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== MAGIC) throw new DecodeError(DecodeReason.Malformed, 'residual state has no FQEF magic');
    if (view.getUint8(4) !== VERSION) throw new DecodeError(DecodeReason.BadVersion, `residual state version ${view.getUint8(4)}, expected ${VERSION}`);
    const n = view.getUint32(8, true);
    if (bytes.byteLength !== STATE_HEADER_BYTES + n * 4) {
      throw new DecodeError(DecodeReason.BadLength, `residual state is ${bytes.byteLength} bytes, ${n} values need ${STATE_HEADER_BYTES + n * 4}`);
    }
    const residual = new Float32Array(n);
    new Uint8Array(residual.buffer).set(bytes.subarray(STATE_HEADER_BYTES));
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(residual[i])) throw new DecodeError(DecodeReason.NonFinite, `residual value ${i} is not finite`);
    }
    return new ErrorFeedback(residual);
  }
}

/** The `+ef` form of a codec: same bytes, flagged so the device wraps it in `ErrorFeedback`. */
export function withErrorFeedback(codec: Codec): Codec {
  if (codec.errorFeedback) throw new RangeError(`${codec.spec} already has error feedback`);
  return {
    spec: `${codec.spec}+ef`,
    description: `${codec.description}, with error feedback on the device`,
    encode: (delta, rng) => codec.encode(delta, rng),
    decode: (bytes, length) => codec.decode(bytes, length),
    accumulate: (bytes, length, target, weight) => codec.accumulate(bytes, length, target, weight),
    maxEncodedBytes: (length) => codec.maxEncodedBytes(length),
    errorFeedback: true,
  };
}
