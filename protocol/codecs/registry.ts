import { OptionsError } from '../errors.js';
import type { Codec } from './codec.js';
import { f32Codec } from './f32.js';
import { int8Codec } from './int8.js';

/** Codec spec strings this build understands (later codecs add themselves here). */
export const CODEC_SPECS = ['f32', 'int8', 'int8@CHUNK'] as const;

/** Resolves a codec spec such as `f32`, `int8` or `int8@256`; throws `OptionsError` otherwise. */
export function parseCodec(spec: string): Codec {
  if (spec === 'f32') return f32Codec;
  const int8 = /^int8(?:@(\d+))?$/.exec(spec);
  if (int8) {
    const chunk = int8[1] === undefined ? undefined : Number(int8[1]);
    if (chunk !== undefined && (chunk < 1 || chunk > 1 << 24)) {
      throw new OptionsError('codec', `int8 chunk size must be in 1..${1 << 24}, got ${chunk}`);
    }
    return int8Codec(chunk);
  }
  throw new OptionsError('codec', `unknown codec "${spec}"; known: ${CODEC_SPECS.join(', ')}`);
}
