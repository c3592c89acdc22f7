import type { Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { TlsHandshakeError } from './errors.js';
import { bind, closeServer, type AcceptConnection, type Listener, type ListenerErrorHandler } from './listener.js';
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
  const sockets = new Set<Socket>();
  const server = createServer(tlsServerOptions(tls, handshakeTimeoutMs), (socket: TLSSocket) => {
    // Sent at once, as on the TCP listener (Nagle would hold each QoS 1 round trip ~40 ms).
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    accept(socket);
  });
  // Raw sockets, so close() also ends the ones still in their handshake.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (error, socket) => onHandshakeError(new TlsHandshakeError(socket.remoteAddress, { cause: error })));
  const boundPort = await bind(server, 'tls', host, port);
  server.on('error', onError);
  return {
    port: boundPort,
    async close() {
      const closed = closeServer(server);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
