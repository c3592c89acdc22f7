import { DEFAULT_HOST, DEFAULT_MAX_CONNECTIONS, DEFAULT_PACKET_TIMEOUT_MS, DEFAULT_PORT, ROLES, credentialHooks, loadCredentials, registerBrokerMetrics, startBroker } from '../broker/index.js';
import { num, seconds, str, type Command } from './args.js';
import { formatBytes } from './format.js';
import { printable } from '../monitor/index.js';
import { serveMetrics } from './metrics-server.js';
import { onShutdown } from './signals.js';

export const brokerCommand: Command = {
  name: 'broker',
  summary: 'run the fedmq MQTT broker (Aedes) over TCP and, optionally, WebSocket',
  examples: ['npx fedmq broker --port 1883 --ws-port 8883', 'npx fedmq broker --host 127.0.0.1 --port 0', 'npx fedmq broker --auth /etc/fedmq/credentials'],
  flags: {
    host: { type: 'string', placeholder: 'ADDR', description: 'address to listen on', default: DEFAULT_HOST },
    port: { type: 'string', placeholder: 'N', description: 'MQTT TCP port (0 = any free port)', default: String(DEFAULT_PORT) },
    'ws-port': { type: 'string', placeholder: 'N', description: 'MQTT-over-WebSocket port (off unless given)' },
    'metrics-port': { type: 'string', placeholder: '[HOST:]PORT', description: 'serve Prometheus metrics at http://HOST:PORT/metrics (host: --host)' },
    'stats-interval': { type: 'string', placeholder: 'SECONDS', description: 'print traffic counters this often (0 = never)', default: '0' },
    'max-connections': { type: 'string', placeholder: 'N', description: 'connections open at once (TCP and WebSocket); more are closed on arrival', default: String(DEFAULT_MAX_CONNECTIONS) },
    'packet-timeout': { type: 'string', placeholder: 'SECONDS', description: 'close a connection whose MQTT packet is not complete this long after its first byte', default: String(DEFAULT_PACKET_TIMEOUT_MS / 1000) },
    auth: { type: 'string', placeholder: 'FILE', description: "require logins from FILE's ROLE NAME HASH lines (fedmq passwd writes them); roles: device, aggregator, monitor" },
  },

  async run(flags) {
    const authFile = str(flags, 'auth');
    const credentials = authFile === undefined ? undefined : await loadCredentials(authFile);
    const broker = await startBroker({
      host: str(flags, 'host'), port: num(flags, 'port'), wsPort: num(flags, 'ws-port'),
      maxConnections: num(flags, 'max-connections'),
      packetTimeoutMs: seconds(flags, 'packet-timeout'),
      ...(credentials && { hooks: credentialHooks(credentials) }),
    });
    // The exact line tests and scripts wait for.
    console.log(`broker listening on ${broker.url}${broker.wsUrl ? ` and ${broker.wsUrl}` : ''}`);
    if (credentials) {
      const count = (role: string): string => `${[...credentials.values()].filter((c) => c.role === role).length} ${role}(s)`;
      console.log(`logins required: ${ROLES.map(count).join(', ')} in ${authFile}`);
    } else {
      console.log('no --auth: any client may connect; a client publishes to update/{id} and status/{id} only as client id {id}');
    }
    const metricsPort = str(flags, 'metrics-port');
    const metrics = metricsPort === undefined ? undefined : await serveMetrics(metricsPort, str(flags, 'host') ?? DEFAULT_HOST, (r) => registerBrokerMetrics(broker, r));
    if (metrics) console.log(`metrics on ${metrics.url}`);
    // Client ids come from the network: printed escaped.
    broker.aedes.on('client', (c) => console.log(`client connected: ${printable(c.id)}`));
    broker.aedes.on('clientDisconnect', (c) => console.log(`client disconnected: ${printable(c.id)}`));
    const every = num(flags, 'stats-interval') ?? 0;
    const timer = every > 0 ? setInterval(() => {
      const s = broker.stats();
      console.log(`stats: clients ${s.clients}  in ${s.messagesIn} msgs / ${formatBytes(s.bytesIn)}  out ${s.messagesOut} msgs / ${formatBytes(s.bytesOut)}  rejected ${s.publishesRejected}  refused: connections ${s.connectionsRefused} logins ${s.loginsRefused} subscriptions ${s.subscriptionsRefused}`);
    }, every * 1000) : undefined;
    await new Promise<void>((resolve) => {
      onShutdown((signal) => {
        console.log(`${signal}: closing broker`);
        resolve();
      });
    });
    clearInterval(timer);
    await metrics?.close();
    await broker.close();
    console.log('broker closed');
    return 0;
  },
};
