import { OptionsError } from '../errors.js';
import { MAX_CHUNK, type Codec } from './codec.js';
import { deflateCodec } from './deflate.js';
import { withErrorFeedback } from './errorFeedback.js';
import { f16Codec } from './f16.js';
import { f32Codec } from './f32.js';
import { int4Codec } from './int4.js';
import { int8Codec } from './int8.js';
import { ternaryCodec, type TernaryMode } from './ternary.js';
import { topkCodec } from './topk.js';

/**
 * Codec spec strings this build understands. `SPEC+deflate` and `SPEC+ef` suffix any of the
 * others, at most once each, in either order; the canonical spec (`codec.spec`) puts
 * `+deflate` before `+ef`.
 */
export const CODEC_SPECS = [
  'f32',
  'f16',
  'int8',
  'int8@CHUNK',
  'int4',
  'int4@CHUNK',
  'ternary',
  'ternary@CHUNK',
  'topk:FRACTION+VALUE',
  'SPEC+deflate',
  'SPEC+ef',
] as const;

/** The value codec of `topk:FRACTION` when none is named: float32, so only sparsification loses. */
export const DEFAULT_TOPK_VALUE = 'f32';

const CHUNKED = /^(int8|int4|ternary)(?:@(\d+))?$/;
const FRACTION = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Resolves a codec spec such as `int8`, `f16`, `topk:0.01+int8+ef` or `int4@256+deflate`;
 * throws `OptionsError('codec', ...)` for anything else. Under top-k, `ternary` is STC's
 * deterministic variant (kept values become mu * sign(x), Sattler et al. 2019); alone it is
 * TernGrad's unbiased stochastic one.
 */
export function parseCodec(spec: string): Codec {
  if (typeof spec !== 'string' || spec === '') throw new OptionsError('codec', `codec spec must be a non-empty string; known: ${CODEC_SPECS.join(', ')}`);
  const [head = '', ...rest] = spec.split('+');
  let value: string | undefined;
  let deflate = false;
  let ef = false;
  for (const part of rest) {
    if (part === 'deflate' || part === 'ef') {
      if ((part === 'deflate' && deflate) || (part === 'ef' && ef)) throw new OptionsError('codec', `"${spec}" has +${part} twice`);
      if (part === 'deflate') deflate = true;
      else ef = true;
    } else if (head.startsWith('topk:') && value === undefined && !deflate && !ef) {
      value = part;
    } else {
      throw new OptionsError('codec', `"${spec}": unexpected part "+${part}"; known: ${CODEC_SPECS.join(', ')}`);
    }
  }
  let codec = head.startsWith('topk:') ? topk(spec, head.slice('topk:'.length), value ?? DEFAULT_TOPK_VALUE) : dense(spec, head, 'stochastic');
  if (deflate) codec = deflateCodec(codec);
  if (ef) codec = withErrorFeedback(codec);
  return codec;
}

function topk(spec: string, fractionText: string, value: string): Codec {
  const fraction = FRACTION.test(fractionText) ? Number(fractionText) : NaN;
  if (!(fraction > 0 && fraction <= 1)) {
    throw new OptionsError('codec', `"${spec}": top-k fraction must be a number in (0, 1], got "${fractionText}"`);
  }
  if (value.startsWith('topk:')) throw new OptionsError('codec', `"${spec}": top-k values cannot themselves be top-k`);
  return topkCodec(fraction, dense(spec, value, 'mean'));
}

/** A dense codec by name; `ternaryMode` is how a `ternary` here picks its scale. */
function dense(spec: string, name: string, ternaryMode: TernaryMode): Codec {
  if (name === 'f32') return f32Codec;
  if (name === 'f16') return f16Codec;
  const chunked = CHUNKED.exec(name);
  if (!chunked) throw new OptionsError('codec', `unknown codec "${name}" in "${spec}"; known: ${CODEC_SPECS.join(', ')}`);
  const [, kind, chunkText] = chunked;
  const chunk = chunkText === undefined ? undefined : Number(chunkText);
  if (chunk !== undefined && (chunk < 1 || chunk > MAX_CHUNK)) {
    throw new OptionsError('codec', `${kind} chunk size must be in 1..${MAX_CHUNK}, got ${chunk}`);
  }
  if (kind === 'int8') return int8Codec(chunk);
  if (kind === 'int4') return int4Codec(chunk);
  return ternaryCodec(chunk, ternaryMode);
}
