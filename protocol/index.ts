export * from './errors.js';
export * from './random.js';
export * from './topics.js';
export * from './events.js';
export * from './messages.js';
export { build, decodeMessage, encodeMessage, sha256Hex, DEFAULT_MAX_MESSAGE_BYTES, MAX_PARTICIPANTS, type DecodeOptions } from './wire.js';
export * from './codecs/index.js';
export * from './downlink.js';
export * from './rejections.js';
