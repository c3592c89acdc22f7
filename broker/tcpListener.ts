import { createServer } from 'node:net';
import { listenTracked, type AcceptConnection, type Listener, type ListenerErrorHandler } from './listener.js';

/** MQTT over plain TCP. */
export async function listenTcp(
  host: string,
  port: number,
  accept: AcceptConnection,
  onError: ListenerErrorHandler,
): Promise<Listener> {
  // MQTT packets are small and written in pieces; with Nagle's algorithm each QoS 1
  // round trip waited on the peer's delayed ACK (~40 ms). Send at once.
  const server = createServer({ noDelay: true }, (socket) => {
    // A reset or broken client must not become an uncaught 'error'; Aedes sees the close.
    socket.on('error', () => undefined);
    accept(socket);
  });
  return listenTracked(server, 'tcp', host, port, onError);
}
