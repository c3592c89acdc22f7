import { DecodeError, DecodeReason, OptionsError } from './errors.js';
import type { Rng } from './random.js';
import type { GlobalDeltaMessage, GlobalMessage } from './messages.js';
import { parseCodec, type Codec } from './codecs/index.js';
import { sha256Hex } from './wire.js';

/**
 * How the global model travels to devices (`--downlink`):
 * - `f32`: the retained `global` in float32 (lossless; the default).
 * - `f16`: the retained `global` in half floats, half the bytes; the aggregator adopts the
 *   f16-rounded weights so that it and every device hold the very same model.
 * - `delta:SPEC`: the retained `global` stays float32 for devices that join, and each new
 *   version also goes out on `global-delta` as `new - previous` in codec SPEC (e.g.
 *   `delta:f16`, `delta:int8`) to devices that hold the previous one. The aggregator adopts
 *   `previous + decode(delta)`, computed by the same function the devices run, so both stay
 *   bit-identical (checked by SHA-256).
 */
export interface Downlink {
  readonly spec: string;
  /** Codec of the retained full global. */
  readonly full: Codec;
  /** Codec of global deltas, or null when only full globals are sent. */
  readonly delta: Codec | null;
}

export const DOWNLINK_SPECS = ['f32', 'f16', 'delta:SPEC'] as const;

export function parseDownlink(spec: string): Downlink {
  if (spec === 'f32' || spec === 'f16') return { spec, full: parseCodec(spec), delta: null };
  if (spec.startsWith('delta:')) {
    const delta = parseCodec(spec.slice('delta:'.length));
    // The aggregator applies exactly what it sent, so there is nothing to feed back.
    if (delta.errorFeedback) throw new OptionsError('downlink', `"${spec}": +ef does not apply to the downlink`);
    return { spec: `delta:${delta.spec}`, full: parseCodec('f32'), delta };
  }
  throw new OptionsError('downlink', `unknown downlink "${spec}"; known: ${DOWNLINK_SPECS.join(', ')}`);
}

/** What the aggregator publishes and what it must then hold as the global. */
export interface Broadcast {
  bytes: Uint8Array;
  /** The weights devices will decode: the aggregator's global from now on. */
  weights: Float32Array;
  sha256: string;
}

/** Encodes a full global; lossy codecs (f16) return the rounded weights devices will hold. */
export function encodeGlobal(weights: Float32Array, codec: Codec, rng: Rng): Broadcast {
  const bytes = codec.encode(weights, rng);
  const held = codec.spec === 'f32' ? weights : codec.decode(bytes, weights.length);
  return { bytes, weights: held, sha256: sha256Hex(held) };
}

/** Decodes a retained global for a model of `length` parameters and checks its hash. */
export function decodeGlobal(message: GlobalMessage, length: number): Float32Array {
  const codec = parseFullCodec(message.codec);
  const weights = codec.decode(message.weights, length);
  if (sha256Hex(weights) !== message.sha256) throw new DecodeError(DecodeReason.BadField, `global v${message.version} does not match its sha256`);
  return weights;
}

/** Encodes `next - previous`; returns what devices will hold after applying it. */
export function encodeGlobalDelta(previous: Float32Array, next: Float32Array, codec: Codec, rng: Rng): Broadcast {
  const step = new Float32Array(next.length);
  for (let i = 0; i < step.length; i++) step[i] = next[i]! - previous[i]!;
  const bytes = codec.encode(step, rng);
  const held = addDecoded(previous, codec, bytes);
  return { bytes, weights: held, sha256: sha256Hex(held) };
}

/** Applies a global delta to the version it was made from and checks the result's hash. */
export function applyGlobalDelta(previous: Float32Array, message: GlobalDeltaMessage): Float32Array {
  const weights = addDecoded(previous, parseCodec(message.codec), message.delta);
  if (sha256Hex(weights) !== message.sha256) throw new DecodeError(DecodeReason.BadField, `global delta to v${message.version} does not match its sha256`);
  return weights;
}

/** The one place both sides compute `previous + decode(delta)`, so the float32 results agree bit for bit. */
function addDecoded(previous: Float32Array, codec: Codec, bytes: Uint8Array): Float32Array {
  const step = codec.decode(bytes, previous.length);
  const out = new Float32Array(previous.length);
  for (let i = 0; i < out.length; i++) out[i] = previous[i]! + step[i]!;
  return out;
}

function parseFullCodec(spec: string): Codec {
  if (spec !== 'f32' && spec !== 'f16') throw new DecodeError(DecodeReason.BadCodec, `a full global is f32 or f16, not ${spec}`);
  return parseCodec(spec);
}
