import {
  DEFAULT_HOST, DEFAULT_MAX_CONNECTIONS, DEFAULT_PACKET_TIMEOUT_MS, DEFAULT_PORT, DEFAULT_TLS_PORT, ROLES, checkPair, credentialHooks, isLoopbackHost, loadCredentials,
  readPem, registerBrokerMetrics, startBroker, type BrokerHandle, type BrokerTlsOptions,
} from '../broker/index.js';
import { UsageError, num, seconds, str, type Command, type Flags } from './args.js';
import { formatBytes } from './format.js';
import { printable } from '../monitor/index.js';
import { serveMetrics } from './metrics-server.js';
import { onShutdown } from './signals.js';

export const brokerCommand: Command = {
  name: 'broker',
  summary: 'run the fedmq MQTT broker (Aedes) over TCP and, optionally, TLS and (secure) WebSocket',
  examples: [
    'npx fedmq broker --port 1883 --ws-port 8080',
    'npx fedmq broker --host 127.0.0.1 --port 0',
    'npx fedmq broker --auth /etc/fedmq/credentials',
    'npx fedmq broker --host 127.0.0.1 --tls-cert certs/broker.crt --tls-key certs/broker.key --tls-port 8883 --wss-port 8884',
    'npx fedmq broker --host 127.0.0.1 --tls-cert certs/broker.crt --tls-key certs/broker.key --tls-ca certs/ca.crt --require-client-cert',
  ],
  flags: {
    host: { type: 'string', placeholder: 'ADDR', description: 'address to listen on', default: DEFAULT_HOST },
    port: { type: 'string', placeholder: 'N', description: 'MQTT TCP port (0 = any free port)', default: String(DEFAULT_PORT) },
    'ws-port': { type: 'string', placeholder: 'N', description: 'MQTT-over-WebSocket port (off unless given)' },
    'metrics-port': { type: 'string', placeholder: '[HOST:]PORT', description: 'serve Prometheus metrics at http://HOST:PORT/metrics (host: --host)' },
    'stats-interval': { type: 'string', placeholder: 'SECONDS', description: 'print traffic counters this often (0 = never)', default: '0' },
    'max-connections': { type: 'string', placeholder: 'N', description: 'connections open at once (TCP and WebSocket); more are closed on arrival', default: String(DEFAULT_MAX_CONNECTIONS) },
    'packet-timeout': { type: 'string', placeholder: 'SECONDS', description: 'close a connection whose MQTT packet is not complete this long after its first byte', default: String(DEFAULT_PACKET_TIMEOUT_MS / 1000) },
    auth: { type: 'string', placeholder: 'FILE', description: "require logins from FILE's ROLE NAME HASH lines (fedmq passwd writes them); roles: device, aggregator, monitor" },
    'tls-cert': { type: 'string', placeholder: 'FILE', description: "also listen for MQTT over TLS (mqtts://) with this certificate (PEM; fedmq certs: DIR/broker.crt)" },
    'tls-key': { type: 'string', placeholder: 'FILE', description: "--tls-cert's private key (PEM; DIR/broker.key)" },
    'tls-port': { type: 'string', placeholder: 'N', description: 'MQTT-over-TLS port (0 = any free port)', default: String(DEFAULT_TLS_PORT) },
    'tls-host': { type: 'string', placeholder: 'ADDR', description: 'address the TLS listeners listen on, e.g. 0.0.0.0 with --host 127.0.0.1 (clear text for this machine only)', default: '--host' },
    'wss-port': { type: 'string', placeholder: 'N', description: 'also MQTT over secure WebSocket (wss://) on this port, with --tls-cert (off unless given)' },
    'tls-ca': { type: 'string', placeholder: 'FILE', description: "verify client certificates this CA signed (DIR/ca.crt): one names its client (CN) and role (OU: device, aggregator, monitor); a device's CN must be its client id" },
    'require-client-cert': { type: 'boolean', description: 'mutual TLS: refuse clients without a certificate --tls-ca signed (on every listener, unless --auth lets them log in)' },
  },

  async run(flags) {
    const tls = await tlsOptions(flags);
    const authFile = str(flags, 'auth');
    const credentials = authFile === undefined ? undefined : await loadCredentials(authFile);
    const host = str(flags, 'host') ?? DEFAULT_HOST;
    const broker = await startBroker({
      host, port: num(flags, 'port'), wsPort: num(flags, 'ws-port'),
      maxConnections: num(flags, 'max-connections'),
      packetTimeoutMs: seconds(flags, 'packet-timeout'),
      ...(credentials && { hooks: credentialHooks(credentials) }),
      ...(tls && { tls }),
    });
    // The exact line tests and scripts wait for.
    console.log(`broker listening on ${listening(broker)}${clearTextWarning(broker, host)}`);
    const mutual = tls?.requireClientCert === true;
    if (tls?.ca !== undefined) {
      console.log(`client certificates: ${mutual ? 'required' : 'optional'}, signed by ${str(flags, 'tls-ca')}; a certificate's CN is its client's name, its OU the role`);
    }
    if (credentials) {
      const count = (role: string): string => `${[...credentials.values()].filter((c) => c.role === role).length} ${role}(s)`;
      console.log(`logins required${tls?.ca !== undefined ? ' without a certificate' : ''}: ${ROLES.map(count).join(', ')} in ${authFile}`);
    } else if (mutual) {
      console.log('no --auth: a client without a certificate is refused, on every listener');
    } else {
      console.log(`no --auth: any client${tls?.ca !== undefined ? ' without a certificate' : ''} may connect; a client publishes to update/{id} and status/{id} only as client id {id}`);
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

/** `--tls-*` flags read and checked: one line for each mistake, before anything listens. */
async function tlsOptions(flags: Flags): Promise<BrokerTlsOptions | undefined> {
  const [certFile, keyFile, caFile] = [str(flags, 'tls-cert'), str(flags, 'tls-key'), str(flags, 'tls-ca')];
  const required = flags['require-client-cert'] === true;
  if (certFile === undefined || keyFile === undefined) {
    if (certFile !== undefined || keyFile !== undefined) throw new UsageError('--tls-cert and --tls-key go together: the broker\'s certificate and its private key');
    const stray = ['tls-port', 'tls-host', 'wss-port', 'tls-ca', 'require-client-cert'].find((f) => flags[f] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} needs --tls-cert and --tls-key`);
    return undefined;
  }
  if (required && caFile === undefined) throw new UsageError('--require-client-cert needs --tls-ca FILE, the CA that signs client certificates');
  const cert = await readPem(certFile, 'tlsCert', 'certificate');
  const key = await readPem(keyFile, 'tlsKey', 'key');
  checkPair(cert, key, certFile, keyFile, 'tlsCert', 'tlsKey');
  const ca = caFile === undefined ? undefined : await readPem(caFile, 'tlsCa', 'CA certificate');
  const [host, port, wssPort] = [str(flags, 'tls-host'), num(flags, 'tls-port'), num(flags, 'wss-port')];
  return { cert, key, ...(ca !== undefined && { ca }), requireClientCert: required, ...(host !== undefined && { host }), ...(port !== undefined && { port }), ...(wssPort !== undefined && { wssPort }) };
}

/** Every listener's URL, clear text first: `mqtt://... and ws://... and mqtts://... and wss://...`. */
function listening(broker: BrokerHandle): string {
  return [broker.url, broker.wsUrl, broker.tlsUrl, broker.wssUrl].filter((u) => u !== undefined).join(' and ');
}

/** Said on the start-up line when a clear-text listener can be reached from the network. */
function clearTextWarning(broker: BrokerHandle, host: string): string {
  if (isLoopbackHost(host)) return '';
  const plain = [broker.url, broker.wsUrl].filter((u) => u !== undefined).map((u) => u.split(':')[0]).join(' and ');
  const where = host === '0.0.0.0' || host === '::' ? `every address (${host})` : host;
  return ` (clear text ${plain} on ${where}: anyone on the network can read and alter it${broker.tlsUrl === undefined ? '; --tls-cert and --tls-key add mqtts://' : '; --host 127.0.0.1 --tls-host 0.0.0.0 keeps clear text to this machine'})`;
}
