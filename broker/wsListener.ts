import { createServer } from 'node:http';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { bind, closeServer, type AcceptConnection, type Listener, type ListenerErrorHandler } from './listener.js';

/**
 * MQTT over WebSocket, on its own HTTP server: each WebSocket becomes a byte stream
 * that Aedes reads exactly as a TCP socket (MQTT 3.1.1 section 6: one or more MQTT
 * packets per binary WebSocket message, packets may span messages).
 */
export async function listenWebSocket(
  host: string,
  port: number,
  maxMessageBytes: number,
  accept: AcceptConnection,
  onError: ListenerErrorHandler,
): Promise<Listener> {
  const server = createServer((_request, response) => {
    // Plain HTTP requests would otherwise hang until they time out.
    response.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end('MQTT over WebSocket only\n');
  });
  // ws defaults to 100 MiB per message; a packet never needs more than the broker's limit.
  const wss = new WebSocketServer({ server, maxPayload: maxMessageBytes });
  wss.on('connection', (ws, request) => {
    // createWebSocketStream turns ws errors into stream errors that Aedes handles;
    // this listener covers the moment between the two.
    ws.on('error', () => undefined);
    const stream = createWebSocketStream(ws);
    stream.on('error', () => undefined);
    accept(stream, request);
  });
  // Errors of the underlying HTTP server are re-emitted by wss; listening for them here
  // keeps ws from throwing.
  wss.on('error', () => undefined);
  const boundPort = await bind(server, 'ws', host, port);
  server.on('error', onError);
  return {
    port: boundPort,
    async close() {
      const closed = closeServer(server);
      // ws 8 no longer terminates open WebSockets on close.
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
