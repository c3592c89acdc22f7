import { createServer, type TLSSocket } from 'node:tls';
import { TlsHandshakeError } from './errors.js';
import { listenTracked, type AcceptConnection, type Listener, type ListenerErrorHandler } from './listener.js';
import type { ParsedBrokerTls } from './tlsOptions.js';

/** What a TLS server asks of its clients, from the broker's TLS options (shared by the TLS and secure WebSocket listeners). */
export function tlsServerOptions(tls: ParsedBrokerTls, handshakeTimeoutMs: number): Parameters<typeof createServer>[0] {
  return {
    ...tls.context,
    // Asked for whenever there is a CA to check it; a handshake without one fails only with requireClientCert.
    requestCert: tls.verifiesClients,
    rejectUnauthorized: tls.requireClientCert,
    // A client that opens a socket and never finishes its handshake holds it no longer than a stalled packet.
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/** MQTT over TLS (mqtts://): each connection reaches Aedes once its handshake succeeded. */
export async function listenTls(
  host: string,
  port: number,
  tls: ParsedBrokerTls,
  handshakeTimeoutMs: number,
  accept: AcceptConnection,
  onHandshakeError: (error: TlsHandshakeError) => void,
  onError: ListenerErrorHandler,
): Promise<Listener> {
  const server = createServer(tlsServerOptions(tls, handshakeTimeoutMs), (socket: TLSSocket) => {
    // Sent at once, as on the TCP listener (Nagle would hold each QoS 1 round trip ~40 ms).
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    accept(socket);
  });
  server.on('tlsClientError', (error, socket) => onHandshakeError(new TlsHandshakeError(socket.remoteAddress, { cause: error })));
  // Raw sockets are kept, so close() also ends the ones still in their handshake.
  return listenTracked(server, 'tls', host, port, onError);
}
