import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FedmqError, OptionsError, fleetTopics } from '../../protocol/index.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** MQTT-over-WebSocket URL the page connects to (`fedmq broker --ws-port`). Required. */
  wsUrl: string;
  /** @default 'default' */
  fleet?: string;
  /** Address the HTTP server binds; the page is read-only, but keep it local unless asked. @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8080 */
  port?: number;
  /** Where the built page is (`npm run build` puts it beside this file). @default './static/' */
  assetsDir?: string;
  /**
   * The aggregator's Ed25519 public key, its 32 raw bytes in base64: the page checks the fleet's
   * signed messages with WebCrypto (or says `unverified` where the browser has no Ed25519).
   */
  trustKey?: string;
}

export interface DashboardHandle {
  /** `http://host:port/` of the page. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';
export const DEFAULT_DASHBOARD_PORT = 8080;

/** The page's files, as `npm run build` (scripts/build-dashboard.js) writes them. */
const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/dashboard.js': 'dashboard.js',
  '/dashboard.css': 'dashboard.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

/** The dashboard page has not been built (no `dist/monitor/web/static/`). */
/**
 * Starts an HTTP server and resolves once it listens, with the port it got and an origin a
 * local browser or curl can use (127.0.0.1 for a wildcard host, brackets for IPv6).
 */
export async function listenHttp(server: Server, host: string, port: number): Promise<{ port: number; origin: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as { port: number }).port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : isIPv6(host) ? `[${host}]` : host;
  return { port: bound, origin: `http://${shown}:${bound}` };
}

export class DashboardAssetsError extends FedmqError {
  override name = 'DashboardAssetsError';
}

/**
 * Serves the dashboard: a static page whose script connects to the broker by itself over
 * MQTT-over-WebSocket, so this server only hands out files and `config.json`.
 */
export async function startDashboard(options: DashboardOptions): Promise<DashboardHandle> {
  if (typeof options.wsUrl !== 'string' || !/^wss?:\/\//.test(options.wsUrl)) {
    throw new OptionsError('wsUrl', `must be a ws:// or wss:// URL (the broker's WebSocket listener), got ${JSON.stringify(options.wsUrl)}`);
  }
  const fleet = fleetTopics(options.fleet).fleet;
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  const port = options.port ?? DEFAULT_DASHBOARD_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new OptionsError('port', `must be an integer in 0..65535, got ${port}`);
  const dir = options.assetsDir ?? fileURLToPath(new URL('./static/', import.meta.url));

  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [path, name] of Object.entries(ASSETS)) {
    try {
      files.set(path, { body: await readFile(`${dir}/${name}`), type: TYPES[name.split('.').pop()!]! });
    } catch (cause) {
      throw new DashboardAssetsError(`dashboard file ${name} is missing in ${dir}: run \`npm run build\``, { cause });
    }
  }
  files.set('/config.json', { body: Buffer.from(JSON.stringify({ wsUrl: options.wsUrl, fleet, ...(options.trustKey !== undefined && { trustKey: options.trustKey }) })), type: TYPES.json! });

  const server = createServer((request, response) => serve(files, request, response));
  const { port: bound, origin } = await listenHttp(server, host, port);
  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/`,
    port: bound,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function serve(files: Map<string, { body: Buffer; type: string }>, request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? '/').split('?', 1)[0]!;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  const file = files.get(path);
  if (!file) {
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  response.writeHead(200, {
    'Content-Type': file.type,
    'Content-Length': file.body.byteLength,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    // Everything is served from here; the only other place the page talks to is the broker.
    'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; worker-src 'self' blob:; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
  });
  response.end(request.method === 'HEAD' ? undefined : file.body);
}
