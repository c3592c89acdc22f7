/**
 * What a round costs outside local training (transfer, encode/decode, aggregation, evaluation),
 * and what TLS, mutual TLS and signed messages add to it: the default simulation at 10 devices
 * over a broker in this process, plain (mqtt://), TLS (mqtts://, the fleet trusts the broker's
 * CA), mutual TLS (every client with its certificate, `--require-client-cert`) and mutual TLS
 * with signed messages (`--sign`: the aggregator signs task, global and round with Ed25519, every
 * device verifies). The configurations run interleaved, `--repeats` times each, so that a busy
 * machine's drift falls on all of them alike; figures are medians over their rounds, compared as
 * ratios to plain within this run (after one run that is not counted: the first pays for loading).
 * Usage: npm run build && node dist/bench/round-overhead.js [--rounds 3] [--devices 10] [--repeats 2] [--out FILE]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { addClient, authorityFiles, initAuthority, startBroker, type BrokerHandle } from '../broker/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { MessageSigner } from '../privacy/index.js';
import { Rng, build, builtinTask, encodeGlobal, encodeMessage, parseCodec } from '../protocol/index.js';
import { Simulation, loadFleetCertificates, trustOnly, type FleetSecurity, type RunReport } from '../simulator/index.js';
import { flag, printTable, writeResults } from './table.js';

const devices = Number(flag('devices', '10'));
const rounds = Number(flag('rounds', '3'));
const repeats = Number(flag('repeats', '2'));

type Config = 'plain' | 'TLS' | 'mutual TLS' | 'mutual TLS + signatures';
const CONFIGS: Config[] = ['plain', 'TLS', 'mutual TLS', 'mutual TLS + signatures'];

// Certificates as `fedmq certs` makes them: a CA, the broker's, the aggregator's and one per device.
const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-round-overhead-'));
await initAuthority(dir, []);
await addClient(dir, { role: 'aggregator', name: 'hub' });
for (let i = 0; i < devices; i++) await addClient(dir, { role: 'device', name: `device-${i}` });
const files = authorityFiles(dir);
const [cert, key, ca] = await Promise.all([files.brokerCert, files.brokerKey, files.caCert].map((f) => readFile(f)));

async function runOnce(config: Config): Promise<RunReport> {
  const mutual = config.startsWith('mutual');
  let broker: BrokerHandle | null = null;
  try {
    broker = await startBroker({
      host: '127.0.0.1', port: 0,
      ...(config !== 'plain' && { tls: { cert: cert!, key: key!, port: 0, host: '127.0.0.1', ...(mutual && { ca: ca!, requireClientCert: true }) } }),
    });
    const security: FleetSecurity | undefined = config === 'plain' ? undefined : mutual ? await loadFleetCertificates(dir) : trustOnly(ca!.toString());
    // Training on the main thread, one device after another: the sum of training times is then a
    // part of the wall time, and the rest is the protocol's overhead.
    const simulation = new Simulation({
      devices, rounds, workers: 0, brokerUrl: config === 'plain' ? broker.url : broker.tlsUrl, security, sign: config.endsWith('signatures'),
    });
    return await simulation.run();
  } finally {
    await broker?.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

console.log(`round-overhead: ${devices} devices, ${rounds} rounds x ${repeats} runs per configuration, interleaved; defaults otherwise (mlp, iid, E=1, B=20)`);
// One run first, not counted: the first run in a process pays for loading MNIST, the backend and the JIT.
await runOnce('plain');
const runs = new Map<Config, RunReport[]>(CONFIGS.map((c) => [c, []]));
for (let r = 0; r < repeats; r++) {
  for (const config of CONFIGS) {
    const report = await runOnce(config);
    runs.get(config)!.push(report);
    console.log(`  run ${r + 1}/${repeats} ${config}: ${report.rounds.map((x) => Math.round(x.wallMs)).join(', ')} ms per round`);
  }
}

// Per configuration, the medians over every round of every run.
const summary = CONFIGS.map((config) => {
  const all = runs.get(config)!.flatMap((rep) => rep.rounds);
  return {
    config,
    wallMs: median(all.map((x) => x.wallMs)),
    trainMs: median(all.map((x) => x.trainMs)),
    outsideMs: median(all.map((x) => x.wallMs - x.trainMs)),
    bytesDown: median(all.map((x) => x.bytesDown)),
    accuracy: runs.get(config)!.at(-1)!.final.accuracy,
  };
});
const plain = summary[0]!;
const rows: Record<string, string | number>[] = summary.map((s) => ({
  configuration: s.config,
  'wall ms/round': s.wallMs,
  'train ms/round': s.trainMs,
  'outside training ms/round': s.outsideMs,
  'outside training %': (100 * s.outsideMs) / s.wallMs,
  'added to a round %': (100 * (s.outsideMs - plain.outsideMs)) / plain.wallMs,
  'down bytes/round': s.bytesDown,
  'final accuracy': s.accuracy,
}));
printTable(rows);

// What signing costs by itself: one mlp global (the largest signed message), signed by the aggregator and verified by each device.
const signer = MessageSigner.ephemeral();
const trust = signer.trust('default');
const globalBytes = encodeMessage(build.global({ version: 1, round: 1, codec: 'f32', ...(({ bytes, sha256 }) => ({ weights: bytes, sha256 }))(encodeGlobal(taskInitialWeights(builtinTask('mlp'), 0), parseCodec('f32'), new Rng(0))) }));
const timeIt = (n: number, f: () => void): number => {
  f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return (performance.now() - t) / n;
};
let sealed = signer.seal('default', globalBytes);
const signMs = timeIt(50, () => (sealed = signer.seal('default', globalBytes)));
const verifyMs = timeIt(50, () => trust.open('global', sealed));
const envelopeBytes = sealed.byteLength - globalBytes.byteLength;
console.log(`\nEd25519 on one mlp global (${globalBytes.byteLength} bytes): sign ${signMs.toFixed(2)} ms, verify ${verifyMs.toFixed(2)} ms; the envelope adds ${envelopeBytes} bytes`);
const share = (100 * plain.outsideMs) / plain.wallMs;
console.log(`share of round wall time outside local training (plain): ${share.toFixed(1)}% (target <= 10%), backend ${runs.get('plain')![0]!.environment.backend}`);
const out = await writeResults('round-overhead', {
  devices, rounds, repeats, sharePercent: share, targetPercent: 10, rows, summary,
  signing: { messageBytes: globalBytes.byteLength, signMs, verifyMs, envelopeBytes },
  reports: Object.fromEntries(CONFIGS.map((c) => [c, runs.get(c)!.map((r) => r.rounds)])),
}, flag('out', '') || undefined);
console.log(`wrote ${out}`);
await rm(dir, { recursive: true, force: true });
