import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { TlsHandshakeError } from './errors.js';
import { bind, closeServer, type AcceptConnection, type Listener, type ListenerErrorHandler } from './listener.js';
import { tlsServerOptions } from './tlsListener.js';
import type { ParsedBrokerTls } from './tlsOptions.js';

/** With `tls`, the WebSocket listener is a secure one (wss://) on an HTTPS server. */
export interface SecureWebSocket {
  tls: ParsedBrokerTls;
  handshakeTimeoutMs: number;
  onHandshakeError: (error: TlsHandshakeError) => void;
}

/**
 * MQTT over WebSocket, on its own HTTP (or, with `secure`, HTTPS) server: each WebSocket becomes
 * a byte stream that Aedes reads exactly as a TCP socket (MQTT 3.1.1 section 6: one or more MQTT
 * packets per binary WebSocket message, packets may span messages).
 */
export async function listenWebSocket(
  host: string,
  port: number,
  maxMessageBytes: number,
  accept: AcceptConnection,
  onError: ListenerErrorHandler,
  secure?: SecureWebSocket,
): Promise<Listener> {
  const refuseHttp = (_request: IncomingMessage, response: ServerResponse): void => {
    // Plain HTTP requests would otherwise hang until they time out.
    response.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end('MQTT over WebSocket only\n');
  };
  const server = secure === undefined ? createServer(refuseHttp) : createHttpsServer(tlsServerOptions(secure.tls, secure.handshakeTimeoutMs), refuseHttp);
  if (secure !== undefined) {
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => secure.onHandshakeError(new TlsHandshakeError(socket.remoteAddress, { cause: error })));
  }
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
  const boundPort = await bind(server, secure === undefined ? 'ws' : 'wss', host, port);
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
