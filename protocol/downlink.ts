import { DecodeError, DecodeReason, OptionsError } from './errors.js';
import type { Rng } from './random.js';
import type { CatchUpMessage, GlobalDeltaMessage, GlobalMessage } from './messages.js';
import { parseCodec, type Codec } from './codecs/index.js';
import { decodeMessage, sha256Hex } from './wire.js';

/**
 * How the global model travels to devices (`--downlink`):
 * - `f32`: the retained `global` in float32 (lossless).
 * - `f16`: the retained `global` in half floats, half the bytes; the aggregator adopts the
 *   f16-rounded weights so that it and every device hold the very same model.
 * - `delta:SPEC`: the retained `global` stays float32 for devices that join, and each new
 *   version also goes out on `global-delta` as a step `new - previous` in codec SPEC (e.g.
 *   `delta:f16`, `delta:int8`, `delta:topk:0.05+ternary`) to devices that hold the previous
 *   one. The fleet holds `previous + decode(step)`, computed by the same function the devices
 *   run, so the aggregator and every device stay bit-identical (checked by SHA-256).
 * - `delta:SPEC+ef`: the same steps, with server-side error feedback (bidirectional
 *   compression, DoubleSqueeze, Tang et al. 2019): the aggregator keeps its own model, and
 *   each step compresses the whole gap between it and what the fleet holds, so what one step
 *   leaves out the next one carries. Without `+ef` the aggregator adopts what the fleet holds.
 */
export interface Downlink {
  readonly spec: string;
  /** Codec of the retained full global. */
  readonly full: Codec;
  /** Codec of global steps, or null when only full globals are sent. */
  readonly delta: Codec | null;
  /** Server-side error feedback: the aggregator continues from its own model, not the fleet's. */
  readonly errorFeedback: boolean;
}

export const DOWNLINK_SPECS = ['f32', 'f16', 'delta:SPEC'] as const;

export function parseDownlink(spec: string): Downlink {
  if (spec === 'f32' || spec === 'f16') return { spec, full: parseCodec(spec), delta: null, errorFeedback: false };
  if (spec.startsWith('delta:')) {
    const codec = parseCodec(spec.slice('delta:'.length));
    // The codec's own +ef is a device's residual; on the downlink the aggregator's model is the residual's keeper.
    const errorFeedback = codec.errorFeedback === true;
    const delta = errorFeedback ? parseCodec(codec.spec.slice(0, -'+ef'.length)) : codec;
    return { spec: `delta:${codec.spec}`, full: parseCodec('f32'), delta, errorFeedback };
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

/** A verified copy of the global: its weights, version, the round that made it and their SHA-256. */
export interface HeldGlobal {
  weights: Float32Array;
  version: number;
  round: number;
  sha256: string;
}

/**
 * Applies a `catchUp` to the copy a device holds (`held`, or null for none): a chain of steps,
 * each checked to start from the version before it and to give its SHA-256, or a full copy.
 * All or nothing: throws `DecodeError` (a corrupt step, a chain from another version, steps out
 * of order, a full copy that is not the version it claims) and `held` is left as it was.
 */
export function applyCatchUp(held: HeldGlobal | null, message: CatchUpMessage, length: number): HeldGlobal {
  if (message.full) {
    const global = decodeMessage('global', message.full);
    if (global.version !== message.version) throw new DecodeError(DecodeReason.BadField, `catch-up to v${message.version} carries v${global.version}`);
    return { weights: decodeGlobal(global, length), version: global.version, round: global.round, sha256: global.sha256 };
  }
  if (!held || held.version !== message.baseVersion) {
    throw new DecodeError(DecodeReason.BadField, `catch-up starts from v${message.baseVersion}, the device holds ${held ? `v${held.version}` : 'none'}`);
  }
  let at = held;
  for (const bytes of message.steps ?? []) {
    const step = decodeMessage('globalDelta', bytes);
    if (step.baseVersion !== at.version || step.version !== at.version + 1) {
      throw new DecodeError(DecodeReason.BadField, `catch-up step v${step.baseVersion}->v${step.version} does not follow v${at.version}`);
    }
    at = { weights: applyGlobalDelta(at.weights, step), version: step.version, round: step.round, sha256: step.sha256 };
  }
  if (at.version !== message.version) throw new DecodeError(DecodeReason.BadField, `catch-up ends at v${at.version}, not v${message.version}`);
  return at;
}
