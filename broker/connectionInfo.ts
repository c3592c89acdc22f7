import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const sources = new WeakMap<object, string>();

/** Remembers the peer address of the stream Aedes will read, `conn`'s socket or the WebSocket's request. */
export function recordSource(guarded: Duplex, conn: Duplex, request?: IncomingMessage): void {
  const address = request?.socket.remoteAddress ?? (conn as { remoteAddress?: string }).remoteAddress;
  if (address !== undefined) sources.set(guarded, address);
}

/**
 * The peer address a client connected from (`client.conn` of an Aedes client), as the TCP
 * connection saw it: a proxy's `X-Forwarded-For` is not trusted. `undefined` when unknown.
 */
export function sourceOf(client: { conn?: unknown } | null | undefined): string | undefined {
  const conn = client?.conn;
  return typeof conn === 'object' && conn !== null ? sources.get(conn) : undefined;
}
