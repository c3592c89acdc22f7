import type { IncomingMessage } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BrokerListenError } from './errors.js';

/** Called for each new connection; hands it to Aedes. */
export type AcceptConnection = (conn: Duplex, request?: IncomingMessage) => void;

/** Called for errors of a listener after it started (not of a single client). */
export type ListenerErrorHandler = (error: Error) => void;

/** MQTT over TCP, over TLS, over WebSocket, over secure WebSocket. */
export type ListenerKind = 'tcp' | 'tls' | 'ws' | 'wss';

/** One bound port that accepts MQTT connections. */
export interface Listener {
  readonly port: number;
  /** Stops accepting, destroys open connections, resolves once the port is free. */
  close(): Promise<void>;
}

/** Binds `server` to host:port; rejects with a {@link BrokerListenError}. */
export function bind(server: Server, kind: ListenerKind, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (cause: Error): void => {
      server.off('listening', onListening);
      reject(new BrokerListenError(kind, host, port, { cause }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Resolves when `server` has closed, i.e. its last connection is gone. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    // ERR_SERVER_NOT_RUNNING is the only possible error, and it means "already closed".
    server.close(() => resolve());
  });
}

/**
 * Binds `server` (TCP or TLS) and keeps every raw socket it accepts, so that `close()` also ends
 * the connections still open, or still in their handshake; errors after binding go to `onError`.
 */
export async function listenTracked(server: Server, kind: ListenerKind, host: string, port: number, onError: ListenerErrorHandler): Promise<Listener> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const boundPort = await bind(server, kind, host, port);
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
