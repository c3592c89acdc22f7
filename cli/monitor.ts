import { randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DEFAULT_FLEET } from '../protocol/index.js';
import {
  DEFAULT_DASHBOARD_HOST,
  frameSignature,
  printableJson,
  renderTerminal,
  startDashboard,
  topicLine,
  watchFleet,
  type FleetWatch,
} from '../monitor/index.js';
import { UsageError, num, str, type Command, type Flags } from './args.js';
import { clientTls, login, loginFlags, tlsFlags } from './shared-flags.js';
import { certificateClientId } from '../broker/index.js';
import { onShutdown } from './signals.js';
import { parsePublicKey, rawPublicKey, signatureVerifier } from '../privacy/index.js';

/** Redraw and snapshot period. */
const TICK_MS = 1000;

export const monitorCommand: Command = {
  name: 'monitor',
  summary: 'watch a fleet (read-only): live terminal view, NDJSON snapshots, every topic decoded, or a web dashboard',
  examples: [
    'npx fedmq monitor --broker mqtt://127.0.0.1:1883',
    'npx fedmq monitor --broker mqtt://127.0.0.1:1883 --fleet lab --json',
    'npx fedmq monitor --broker mqtt://127.0.0.1:1883 --topics',
    'npx fedmq monitor --web 8080 --ws-url ws://127.0.0.1:8883',
    'npx fedmq monitor --broker mqtts://hub.local:8883 --ca certs/ca.crt --cert certs/monitor/laptop.crt --key certs/monitor/laptop.key',
    'npx fedmq monitor --web 8080 --ws-url wss://hub.local:8884',
  ],
  flags: {
    broker: { type: 'string', placeholder: 'URL', description: 'broker URL (mqtt://, mqtts://, ws://, wss://); required except with --web' },
    fleet: { type: 'string', placeholder: 'ID', description: 'fleet id (topics fedmq/v1/ID/#)', default: DEFAULT_FLEET },
    json: { type: 'boolean', description: 'print one NDJSON snapshot per second (with --topics: one JSON line per message)' },
    topics: { type: 'boolean', description: 'print every message as it arrives, CBOR decoded to JSON, arrays summarised' },
    web: { type: 'string', placeholder: 'PORT', description: 'serve the web dashboard on this port (0 = any free port)' },
    'ws-url': { type: 'string', placeholder: 'URL', description: "with --web: the broker's MQTT-over-WebSocket URL the page connects to (wss://: the browser must trust the broker's certificate)" },
    host: { type: 'string', placeholder: 'ADDR', description: 'with --web: address the dashboard listens on', default: DEFAULT_DASHBOARD_HOST },
    trust: { type: 'string', placeholder: 'FILE', description: "the aggregator's public key (fedmq keygen's aggregator.pub): show whether the fleet's messages verify (with --web the page checks them with the browser's WebCrypto)" },
    ...loginFlags,
    ...tlsFlags,
  },

  async run(flags) {
    if (flags.web !== undefined) return serveDashboard(flags);
    const url = str(flags, 'broker');
    if (url === undefined) throw new UsageError('--broker URL is required, e.g. --broker mqtt://127.0.0.1:1883 (or --web PORT --ws-url URL)');
    const secure = await clientTls(flags, url);
    const identity = secure?.identity;
    // A device's certificate would take the device's client id, and read little.
    if (identity?.role === 'device') throw new UsageError(`--cert is device ${identity.name}'s certificate; the monitor needs a monitor certificate (fedmq certs --role monitor --name NAME)`);
    const json = flags.json === true;
    const topics = flags.topics === true;
    const print = (line: string): void => void process.stdout.write(`${line}\n`);
    const key = await trustedKey(flags);
    const watch = watchFleet({
      url, ...(key ? { trust: signatureVerifier(key) } : { trustNote: 'no --trust key' }),
      fleet: str(flags, 'fleet'),
      ...login(flags),
      ...(secure && { tls: secure.tls }),
      ...(identity && { clientId: certificateClientId(identity, `monitor-${randomBytes(4).toString('hex')}`) }),
      onMessage: topics ? (m) => print(topicLine(m, { paramCount: watch.state.paramCount, json })) : undefined,
    });
    if (topics) return untilShutdown(watch, () => undefined);
    if (json) {
      const timer = setInterval(() => print(printableJson(watch.state.snapshot(Date.now()))), TICK_MS);
      return untilShutdown(watch, () => clearInterval(timer));
    }
    return process.stdout.isTTY ? liveView(watch) : plainView(watch);
  },
};

/** Full-screen view on the alternate screen, redrawn every second and on resize. */
function liveView(watch: FleetWatch): Promise<number> {
  const out = process.stdout;
  const draw = (): void => {
    const lines = renderTerminal(watch.state.snapshot(Date.now()), { width: out.columns, height: out.rows, color: true });
    // Home, each line cleared to its end, then the rest of the screen cleared: no flicker.
    out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\x1b[J`);
  };
  out.write('\x1b[?1049h\x1b[?25l');
  draw();
  const timer = setInterval(draw, TICK_MS);
  out.on('resize', draw);
  return untilShutdown(watch, () => {
    clearInterval(timer);
    out.off('resize', draw);
    out.write('\x1b[?25h\x1b[?1049l');
  });
}

/** Not a terminal (a pipe, a log): a plain frame whenever something other than the clock changed. */
function plainView(watch: FleetWatch): Promise<number> {
  let last = '';
  const timer = setInterval(() => {
    const snapshot = watch.state.snapshot(Date.now());
    const signature = frameSignature(snapshot);
    if (signature === last) return;
    last = signature;
    process.stdout.write(`${renderTerminal(snapshot, { width: 120 }).join('\n')}\n\n`);
  }, TICK_MS);
  return untilShutdown(watch, () => clearInterval(timer));
}

function untilShutdown(watch: FleetWatch, stop: () => void): Promise<number> {
  return new Promise((resolve) => {
    const unhook = onShutdown(() => {
      unhook();
      stop();
      watch.close().then(() => resolve(0), () => resolve(0));
    });
  });
}

async function serveDashboard(flags: Flags): Promise<number> {
  // The page connects from the browser, which trusts what it trusts: the TLS flags are this process's only.
  if (str(flags, 'ca') !== undefined || str(flags, 'cert') !== undefined) throw new UsageError("--ca and --cert are not for --web: the page's browser must trust the broker's CA itself (see docs/security.md)");
  const broker = str(flags, 'broker');
  const wsUrl = str(flags, 'ws-url') ?? (broker !== undefined && /^wss?:\/\//.test(broker) ? broker : undefined);
  if (wsUrl === undefined) {
    throw new UsageError("--web needs --ws-url ws://HOST:PORT, the broker's WebSocket listener (fedmq broker --ws-port PORT)");
  }
  const key = await trustedKey(flags);
  const trustKey = key && Buffer.from(rawPublicKey(key)).toString('base64');
  const dashboard = await startDashboard({ wsUrl, fleet: str(flags, 'fleet'), host: str(flags, 'host'), port: num(flags, 'web'), ...(trustKey && { trustKey }) });
  // The exact line tests and scripts wait for.
  console.log(`dashboard on ${dashboard.url} (the page connects to ${wsUrl})`);
  await new Promise<void>((resolve) => {
    const unhook = onShutdown(() => {
      unhook();
      resolve();
    });
  });
  await dashboard.close();
  return 0;
}

/** `--trust FILE`: the aggregator's public key, read with one-line errors; undefined without the flag. */
async function trustedKey(flags: Flags): Promise<KeyObject | undefined> {
  const file = str(flags, 'trust');
  if (file === undefined) return undefined;
  try {
    return parsePublicKey(await readFile(file, 'utf8'));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new UsageError(`--trust ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}
