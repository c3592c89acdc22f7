import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { CLI } from './processes.js';

/**
 * Slow suite (FEDMQ_SLOW=1; vitest.config.ts leaves it out otherwise, .ci/run runs it): builds
 * the arm64 and armv7l bundles with `npm run bundle`'s script, unpacks the tarballs where no
 * node_modules can help them, and runs each agent on its own Node under qemu-user
 * (qemu-aarch64-static / qemu-arm-static, with Debian's cross glibc as the sysroot) against a
 * broker and an aggregator on this machine. A round passes when the aggregator accepts the
 * emulated device's update. Then `fedmq predict` runs on the model the emulated agent kept:
 * onnxruntime-web's wasm on both (armv7l picks it by itself; arm64 is told to, because
 * onnxruntime-node's arm64 library crashes under qemu-user 7.2), checked against this machine.
 */
const EMULATION = {
  arm64: { qemu: '/usr/bin/qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu', runtime: 'onnxruntime-web' },
  armv7l: { qemu: '/usr/bin/qemu-arm-static', sysroot: '/usr/arm-linux-gnueabihf', runtime: 'auto' },
} as const;
type Target = keyof typeof EMULATION;
const TARGETS = Object.keys(EMULATION) as Target[];
const SETUP = 'apt-get install -y qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross (.ci/run installs them)';

/** A process with its output gathered line by line. */
class Proc {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: 'pipe', env: { ...process.env, NODE_OPTIONS: '' } });
    let buffered = '';
    const collect = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      this.lines.push(...parts);
    };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve(code ?? (signal === null ? null : 128))));
  }
  text(): string {
    return this.lines.join('\n');
  }
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

async function within<T>(what: Promise<T>, ms: number, label: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label()}`)), ms); });
  try {
    return await Promise.race([what, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let work: string;
let broker: BrokerHandle | undefined;
const bundles = new Map<Target, { dir: string; nodeFlags: string[]; node: string }>();
const running: Proc[] = [];

beforeAll(() => {
  for (const [target, e] of Object.entries(EMULATION)) {
    if (!existsSync(e.qemu)) throw new Error(`${target}: ${e.qemu} is missing; ${SETUP}`);
    if (!existsSync(path.join(e.sysroot, 'lib'))) throw new Error(`${target}: no ${e.sysroot}/lib sysroot; ${SETUP}`);
  }
  work = mkdtempSync(path.join(tmpdir(), 'fedmq-emulated-'));
  const out = path.join(work, 'dist-bundle');
  execFileSync(process.execPath, ['deploy/bundle.js', '--targets', TARGETS.join(','), '--with-mnist', '--out', out], { stdio: 'pipe', timeout: 400_000 });
  const records = JSON.parse(readFileSync(path.join(out, 'bundles.json'), 'utf8')) as { target: Target; name: string; tarball: string }[];
  for (const r of records) {
    // Unpacked from the tarball into a fresh directory: nothing but the bundle can be resolved.
    const into = path.join(work, `device-${r.target}`);
    mkdirSync(into);
    execFileSync('tar', ['xzf', path.resolve(r.tarball), '-C', into]);
    const dir = path.join(into, r.name);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { nodeFlags: string[]; node: string };
    bundles.set(r.target, { dir, nodeFlags: manifest.nodeFlags, node: manifest.node });
  }
  rmSync(out, { recursive: true, force: true });
}, 420_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(5_000)));
  await broker?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The bundle's own Node (with the launcher's flags) under qemu-user. */
function emulated(target: Target, args: string[]): Proc {
  const b = bundles.get(target);
  if (b === undefined) throw new Error(`no ${target} bundle`);
  const e = EMULATION[target];
  const p = new Proc(e.qemu, ['-L', e.sysroot, path.join(b.dir, 'bin', 'node'), ...b.nodeFlags, path.join(b.dir, 'lib', 'cli', 'fedmq.mjs'), ...args]);
  running.push(p);
  return p;
}

describe('device bundles on emulated boards (qemu-user)', () => {
  it.each(TARGETS)('%s: the bundle runs under qemu, without npm or node_modules', async (target) => {
    // Execute
    const version = emulated(target, ['--version']);
    const code = await within(version.exited, 120_000, () => version.text());

    // Assert
    expect(code, version.text()).toBe(0);
    expect(version.text().trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  }, 150_000);

  it.each(TARGETS)('%s: the emulated agent trains a round whose update the aggregator accepts, and predicts with the model it kept', async (target) => {
    // Prepare
    broker ??= await startBroker({ host: '127.0.0.1', port: 0 });
    const fleet = `emu-${target}`;
    const report = path.join(work, `report-${target}.json`);
    const state = path.join(work, `state-${target}`);
    const aggregator = new Proc(process.execPath, [CLI, 'aggregator', '--broker', broker.url, '--fleet', fleet, '--rounds', '1', '--min-devices', '1', '--round-timeout', '300', '--report', report]);
    running.push(aggregator);

    // Execute
    const agent = emulated(target, ['agent', '--broker', broker.url, '--fleet', fleet, '--id', `pi-${target}`, '--data', 'mnist:iid:1/100', '--state-dir', state]);
    const aggregatorCode = await within(aggregator.exited, 360_000, () => `aggregator:\n${aggregator.text()}\nagent:\n${agent.text()}`);
    await within((async () => { while (!agent.text().includes('kept in')) await new Promise((r) => setTimeout(r, 100)); })(), 60_000, () => agent.text());
    await agent.stop();

    // Assert: the round closed with the emulated device's update accepted.
    expect(aggregatorCode, aggregator.text()).toBe(0);
    const round = (JSON.parse(readFileSync(report, 'utf8')) as { rounds: { participants: number; accepted: number; rejected: number }[] }).rounds[0];
    expect(round).toMatchObject({ participants: 1, accepted: 1, rejected: 0 });
    expect(agent.text()).toMatch(new RegExp(`agent pi-${target}: 600 local examples of \\[28, 28, 1\\], backend wasm`));
    expect(agent.text()).toMatch(/round 1: published [\d.]+ KB update/);
    console.log(`${target} (node ${bundles.get(target)?.node}): ${agent.lines.filter((l) => /published|backend/.test(l)).join(' | ')}`);

    // Execute: predictions on the emulated board from the global it kept, and on this machine.
    const inputs = path.join(work, 'inputs.json');
    writeFileSync(inputs, JSON.stringify(Array.from({ length: 3 }, (_, i) => Array.from({ length: 784 }, (_, j) => ((i * 31 + j) % 17) / 17))));
    const predict = emulated(target, ['predict', '--input', inputs, '--state-dir', state, '--runtime', EMULATION[target].runtime]);
    const predictCode = await within(predict.exited, 240_000, () => predict.text());
    const host = execFileSync(process.execPath, [CLI, 'predict', '--input', inputs, '--state-dir', state, '--runtime', 'onnxruntime-web'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

    // Assert: onnxruntime-web ran on the board, with this machine's outputs.
    expect(predictCode, predict.text()).toBe(0);
    expect(predict.text()).toMatch(/runtime onnxruntime-web/);
    console.log(`${target} predict: ${predict.lines.find((l) => l.includes('runtime')) ?? ''}`);
    const outputs = (text: string): number[][] => text.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { output: number[] }).output);
    const board = outputs(predict.text());
    const here = outputs(host);
    expect(board).toHaveLength(3);
    board.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - (here[i]?.[j] ?? NaN))).toBeLessThan(1e-5)));
  }, 600_000);
});
