/**
 * What `fedmq broker --auth` gives away and how it holds under a password flood, on a real
 * broker with real MQTT clients:
 * 1. the time to refuse a wrong password for a known username against an unknown one,
 *    interleaved in the same run, as a ratio (1 = usernames cannot be told apart by timing;
 *    before the dummy hash it was ~20: 71 ms against 3 ms);
 * 2. the time an honest device (never logged in before) takes to log in alone, and while 300
 *    wrong-password CONNECTs are in flight from one address and from 30.
 * Throttling is raised out of the way for (1), so every refusal costs its password check.
 * Usage: npm run build && node dist/bench/broker-auth.js [--runs 40] [--out FILE]
 */
import { connect } from 'node:net';
import os from 'node:os';
import mqtt from 'mqtt';
import { credentialHooks, hashPassword, parseCredentials, startBroker, type LoginLimits } from '../broker/index.js';
import { flag, printTable, writeResults } from './table.js';

const runs = Number(flag('runs', '40'));
const credentials = parseCredentials([
  `device pi-01 ${await hashPassword('pi-01-pw')}`,
  `device pi-02 ${await hashPassword('pi-02-pw')}`,
].join('\n'));

/** Milliseconds from CONNECT to CONNACK (refused or not). */
async function loginMs(url: string, username: string, password: string, clientId = username): Promise<number> {
  const started = performance.now();
  try {
    const client = await mqtt.connectAsync(url, { clientId, username, password, reconnectPeriod: 0, connectTimeout: 30_000 });
    await client.endAsync();
  } catch {
    // refused: the time is what we measure
  }
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Resolves with the time the CONNACK (or the close) came. */
function rawConnect(port: number, localAddress: string, username: string, password: string): Promise<number> {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)]);
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 0]), str(`x-${Math.random()}`), str(username), str(password)]);
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body])));
    socket.on('error', () => resolve(performance.now()));
    socket.once('data', () => {
      socket.destroy();
      resolve(performance.now());
    });
    socket.once('close', () => resolve(performance.now()));
  });
}

console.log(`broker --auth: login timing, ${runs} runs, node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0]!.toFixed(1)}`);

// 1. Known against unknown username, interleaved.
const noThrottle: LoginLimits = { maxFailuresPerSource: 1e9, maxFailuresPerUsername: 1e9 };
const broker = await startBroker({ host: '127.0.0.1', port: 0, hooks: credentialHooks(credentials, noThrottle) });
await loginMs(broker.url, 'nobody', 'warm-up'); // the dummy hash is made on first use
const known: number[] = [];
const unknown: number[] = [];
for (let i = 0; i < runs; i++) {
  known.push(await loginMs(broker.url, 'pi-01', `wrong-${i}`));
  unknown.push(await loginMs(broker.url, `nobody-${i}`, `wrong-${i}`));
}
await broker.close();
const knownMs = median(known);
const unknownMs = median(unknown);
printTable([
  { username: 'known (pi-01), wrong password', 'median ms': knownMs },
  { username: 'unknown, wrong password', 'median ms': unknownMs },
]);
console.log(`known / unknown: ${(knownMs / unknownMs).toFixed(2)} (1 = indistinguishable)\n`);

// 2. An honest first login under a flood, default limits.
const flood: Record<string, string | number>[] = [];
for (const sources of [0, 1, 30]) {
  const floodBroker = await startBroker({ host: '127.0.0.1', port: 0, hooks: credentialHooks(credentials) });
  const attack = Array.from({ length: sources === 0 ? 0 : 300 }, (_, i) => rawConnect(floodBroker.port, `127.0.0.${2 + (i % sources)}`, 'pi-02', `guess-${i}`));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const honestMs = await loginMs(floodBroker.url, 'pi-01', 'pi-01-pw');
  const honestDone = performance.now();
  const answered = await Promise.all(attack);
  const refused = floodBroker.stats().loginsRefusedByReason;
  flood.push({
    'attacker addresses': sources,
    'honest login ms': honestMs,
    'guesses answered after it': answered.filter((t) => t > honestDone).length,
    busy: refused['busy'] ?? 0,
    'bad-credentials': refused['bad-credentials'] ?? 0,
    throttled: refused['throttled'] ?? 0,
  });
  await floodBroker.close();
}
printTable(flood);

const out = await writeResults(
  'broker-auth',
  { runs, environment: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg1: os.loadavg()[0] }, knownMs, unknownMs, ratio: knownMs / unknownMs, flood },
  flag('out', '') || undefined,
);
console.log(`wrote ${out}`);
