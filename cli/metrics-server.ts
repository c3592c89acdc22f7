import { createServer, type Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { listenHttp } from '../monitor/index.js';
import { parseListen } from './args.js';

export interface MetricsServer {
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves a fresh prom-client Registry on `GET /metrics`: the component's own metrics (added by
 * `register`) and Node's process metrics. Nothing is shared between servers, so a broker and
 * an aggregator in one process (or in one test) each have their own.
 * `spec` is `PORT` or `HOST:PORT` (`[::1]:9100` for IPv6); the host defaults to `defaultHost`.
 */
export async function serveMetrics(spec: string, defaultHost: string, register: (registry: Registry) => void): Promise<MetricsServer> {
  const { host, port } = parseListen(spec, defaultHost);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  register(registry);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (body) => response.writeHead(200, { 'Content-Type': registry.contentType }).end(request.method === 'HEAD' ? undefined : body),
        (error: Error) => response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${error.message}\n`),
      );
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('metrics are at /metrics\n');
    }
  });
  const { origin } = await listenHttp(server, host, port);
  return {
    url: `${origin}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
