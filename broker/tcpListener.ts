import { createServer, type Socket } from 'node:net';
import { bind, closeServer, type AcceptConnection, type Listener, type ListenerErrorHandler } from './listener.js';

/** MQTT over plain TCP. */
export async function listenTcp(
  host: string,
  port: number,
  accept: AcceptConnection,
  onError: ListenerErrorHandler,
): Promise<Listener> {
  const sockets = new Set<Socket>();
  // MQTT packets are small and written in pieces; with Nagle's algorithm each QoS 1
  // round trip waited on the peer's delayed ACK (~40 ms). Send at once.
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset or broken client must not become an uncaught 'error'; Aedes sees the close.
    socket.on('error', () => undefined);
    accept(socket);
  });
  const boundPort = await bind(server, 'tcp', host, port);
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
