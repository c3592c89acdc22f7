export type { Codec } from './codec.js';
export { f32Codec } from './f32.js';
export { int8Codec, DEFAULT_INT8_CHUNK } from './int8.js';
export { parseCodec, CODEC_SPECS } from './registry.js';
