import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { identityFromSubject, type CertificateIdentity } from './certs/identity.js';

/** What a connection's TLS client certificate says, when the broker verifies them. */
export type PeerCertificate =
  | { readonly identity: CertificateIdentity }
  /** A certificate was presented but names no client, or the CA did not sign it. */
  | { readonly problem: string };

interface ConnectionInfo {
  address?: string;
  certificate?: PeerCertificate;
}

const infos = new WeakMap<object, ConnectionInfo>();

/**
 * Remembers, for the stream Aedes will read, the peer address (of `conn`'s socket or the
 * WebSocket's request) and, when `verifiesClients`, what its TLS client certificate says.
 */
export function recordSource(guarded: Duplex, conn: Duplex, request?: IncomingMessage, verifiesClients = false): void {
  const socket = request?.socket ?? conn;
  const info: ConnectionInfo = {};
  const address = (socket as { remoteAddress?: string }).remoteAddress;
  if (address !== undefined) info.address = address;
  if (verifiesClients && socket instanceof TLSSocket) {
    const certificate = peerCertificate(socket);
    if (certificate !== undefined) info.certificate = certificate;
  }
  infos.set(guarded, info);
}

function peerCertificate(socket: TLSSocket): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate();
  // An empty object: the client sent no certificate.
  if (cert === null || Object.keys(cert).length === 0) return undefined;
  if (!socket.authorized) return { problem: `its certificate is not one the broker's CA signed (${String(socket.authorizationError)})` };
  const identity = identityFromSubject(cert.subject as unknown as Record<string, string | string[] | undefined>);
  return 'problem' in identity ? identity : { identity };
}

function infoOf(client: { conn?: unknown } | null | undefined): ConnectionInfo | undefined {
  const conn = client?.conn;
  return typeof conn === 'object' && conn !== null ? infos.get(conn) : undefined;
}

/**
 * The peer address a client connected from (`client.conn` of an Aedes client), as the TCP
 * connection saw it: a proxy's `X-Forwarded-For` is not trusted. `undefined` when unknown.
 */
export function sourceOf(client: { conn?: unknown } | null | undefined): string | undefined {
  return infoOf(client)?.address;
}

/** What the client's verified TLS certificate says; `undefined` without one (or when the broker does not verify them). */
export function certificateOf(client: { conn?: unknown } | null | undefined): PeerCertificate | undefined {
  return infoOf(client)?.certificate;
}
