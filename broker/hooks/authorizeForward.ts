import type { AuthorizeForwardHook } from './types.js';

/** Delivers every message unchanged; what a client may read is decided at subscribe time. */
export const authorizeForward: AuthorizeForwardHook = (_client, packet) => packet;
