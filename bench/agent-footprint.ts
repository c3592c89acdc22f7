/**
 * What one `fedmq agent` costs a device: an `mlp` agent with 600 MNIST examples
 * (`--data mnist:iid:1/100`) against an embedded broker and an aggregator (1 round), started as a
 * board would start it:
 *   - `dist`: `node dist/cli/main.js agent ...` on this machine's Node (a clone after npm install);
 *   - `dist + flags`: the same with the bundle launcher's V8 flags;
 *   - `bundle x64`: the device bundle's launcher (`bin/fedmq-agent`: its own Node 22, one esbuild
 *     file, small-heap V8 flags), built here with MNIST inside (`deploy/bundle.js --with-mnist`).
 * Per run: peak RSS (VmHWM of the agent's process from /proc, read after its first update),
 * start to ready (spawn to its retained `status/{id}` saying online: backend loaded, data read,
 * connected) and start to first update (spawn to its `update/{id}` on the broker). Bundle sizes
 * come from `npm run bundle`'s dist-bundle/bundles.json when present.
 * Targets (issue 13): peak RSS <= 120 MB (goal 64 MB), start to ready <= 2 s on x64.
 *
 * Usage: npm run build && node dist/bench/agent-footprint.js [--runs 3] [--out FILE]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { decodeMessage, fleetTopics } from '../protocol/index.js';
import { flag, printTable, writeResults } from './table.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(root, 'dist', 'cli', 'main.js');
const runs = Number(flag('runs', '3'));
const DATA = 'mnist:iid:1/100';
/** deploy/bundle.js NODE_FLAGS (bin/fedmq-agent passes them). */
const BUNDLE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'];

interface Target {
  name: string;
  node: string;
  command: string;
  args: string[];
}

interface Run {
  peakRssMb: number;
  readyS: number;
  firstUpdateS: number;
  backend: string;
}

function sample(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited(child);
  clearTimeout(timer);
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${seen}`)), timeoutMs);
    const on = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

async function measure(broker: BrokerHandle, target: Target, index: number): Promise<Run> {
  const fleet = `footprint-${index}`;
  const deviceId = 'pi-bench';
  const topics = fleetTopics(fleet);
  const state = mkdtempSync(path.join(tmpdir(), 'fedmq-footprint-'));
  const aggregator = spawn(process.execPath, [CLI, 'aggregator', '--broker', broker.url, '--fleet', fleet, '--rounds', '1', '--min-devices', '1'], { stdio: 'pipe' });
  try {
    await waitForLine(aggregator, /waiting for devices/, 60_000);
    let readyAt: number | null = null;
    let updateAt: number | null = null;
    const onPublish = (packet: { topic: string; payload: Buffer | string }): void => {
      if (packet.topic === topics.status(deviceId) && readyAt === null) {
        try {
          if (decodeMessage('status', new Uint8Array(Buffer.from(packet.payload))).state === 'online') readyAt = performance.now();
        } catch {
          // not a status message: ignored
        }
      }
      if (packet.topic === topics.update(deviceId) && updateAt === null) updateAt = performance.now();
    };
    broker.aedes.on('publish', onPublish);
    const start = performance.now();
    const agent = spawn(target.command, [...target.args, 'agent', '--broker', broker.url, '--fleet', fleet, '--id', deviceId, '--data', DATA, '--state-dir', state], { stdio: 'pipe', env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    agent.stdout.on('data', (c: Buffer) => (out += c.toString()));
    agent.stderr.on('data', (c: Buffer) => (out += c.toString()));
    let peak = 0;
    const poll = setInterval(() => {
      const v = agent.pid === undefined ? null : sample(agent.pid);
      if (v !== null && v > peak) peak = v;
    }, 20);
    try {
      const deadline = Date.now() + 120_000;
      while (updateAt === null) {
        if (agent.exitCode !== null) throw new Error(`${target.name}: agent exited (${agent.exitCode}) before its update:\n${out}`);
        if (Date.now() > deadline) throw new Error(`${target.name}: no update in 120 s:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // The round closes and the next global arrives (and is kept): part of a round's cost.
      await Promise.race([exited(aggregator), new Promise((r) => setTimeout(r, 5_000))]);
      await new Promise((r) => setTimeout(r, 500));
      const last = agent.pid === undefined ? null : sample(agent.pid);
      if (last !== null && last > peak) peak = last;
    } finally {
      clearInterval(poll);
      broker.aedes.removeListener('publish', onPublish);
      await stop(agent);
    }
    const backend = /backend (\w+)/.exec(out)?.[1] ?? '?';
    return { peakRssMb: peak, readyS: ((readyAt ?? NaN) - start) / 1000, firstUpdateS: ((updateAt as number) - start) / 1000, backend };
  } finally {
    await stop(aggregator);
    rmSync(state, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: npm run build first');
  const work = mkdtempSync(path.join(tmpdir(), 'fedmq-footprint-bundle-'));
  const targets: Target[] = [
    { name: 'dist (node dist/cli/main.js)', node: process.version.slice(1), command: process.execPath, args: [CLI] },
    // The bundle launcher's V8 flags alone, on the unbundled CLI: how much of the gap they close.
    { name: `dist + ${BUNDLE_FLAGS.join(' ')}`, node: process.version.slice(1), command: process.execPath, args: [...BUNDLE_FLAGS, CLI] },
  ];
  try {
    console.log('building an x64 bundle with MNIST inside (deploy/bundle.js --targets x64 --with-mnist)');
    execFileSync(process.execPath, [path.join(root, 'deploy', 'bundle.js'), '--targets', 'x64', '--with-mnist', '--no-tar', '--out', work], { stdio: 'pipe' });
    const built = JSON.parse(readFileSync(path.join(work, 'bundles.json'), 'utf8')) as { name: string; node: string }[];
    const bundle = built[0];
    if (bundle !== undefined) targets.push({ name: 'bundle x64 (bin/fedmq-agent)', node: bundle.node, command: path.join(work, bundle.name, 'bin', 'fedmq-agent'), args: [] });
  } catch (e) {
    console.log(`no bundle run: ${(e as Error).message.split('\n')[0]}`);
  }

  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  const results: { target: string; node: string; runs: Run[] }[] = [];
  let fleet = 0;
  try {
    for (const target of targets) {
      const done: Run[] = [];
      for (let i = 0; i < runs; i++) done.push(await measure(broker, target, fleet++));
      results.push({ target: target.name, node: target.node, runs: done });
    }
  } finally {
    await broker.close();
    rmSync(work, { recursive: true, force: true });
  }

  console.log(`\nagent footprint: mlp, ${DATA} (600 examples), 1 round, median of ${runs} run(s)`);
  printTable(results.map((r) => ({
    agent: r.target,
    node: r.node,
    backend: r.runs[0]?.backend ?? '?',
    'peak RSS MB': Number(median(r.runs.map((x) => x.peakRssMb)).toFixed(1)),
    'start to ready s': Number(median(r.runs.map((x) => x.readyS)).toFixed(2)),
    'start to first update s': Number(median(r.runs.map((x) => x.firstUpdateS)).toFixed(2)),
  })));

  const bundlesFile = path.join(root, 'dist-bundle', 'bundles.json');
  let sizes: { target: string; node: string; inference: string[]; cliBytes: number; unpackedBytes: number; tarballBytes?: number }[] = [];
  if (existsSync(bundlesFile)) {
    sizes = JSON.parse(readFileSync(bundlesFile, 'utf8')) as typeof sizes;
    console.log('\nbundle sizes (dist-bundle/, npm run bundle)');
    const mb = (n: number | undefined): number => (n === undefined ? NaN : Number((n / 1048576).toFixed(1)));
    printTable(sizes.map((s) => ({
      target: `linux-${s.target}`,
      node: s.node,
      'tar.gz MB': mb(s.tarballBytes),
      'unpacked MB': mb(s.unpackedBytes),
      'cli bundle MB': mb(s.cliBytes),
      inference: s.inference.join(' > '),
    })));
  } else {
    console.log('\nbundle sizes: run `npm run bundle` first (dist-bundle/bundles.json)');
  }
  const out = await writeResults('agent-footprint', { data: DATA, task: 'mlp', rounds: 1, runs, host: `${process.platform}-${process.arch}`, results, bundles: sizes }, flag('out', '') || undefined);
  console.log(`\nwrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
