import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { processStarter } from './processes.js';

const READINGS = new URL('../examples/sensor/readings.csv', import.meta.url);

/** One mote's readings as that device would hold them: its own file, only the columns it reads. */
function moteFile(dir: string, mote: string): string {
  const [header, ...rows] = readFileSync(READINGS, 'utf8').trim().split('\n');
  const columns = header!.split(',');
  const keep = ['reading', 'humidity', 'temperature', 'label'].map((c) => columns.indexOf(c));
  const own = rows.map((r) => r.split(',')).filter((f) => f[columns.indexOf('mote')] === mote);
  const file = path.join(dir, `mote-${mote}.csv`);
  writeFileSync(file, ['reading,humidity,temperature,label', ...own.map((f) => keep.map((k) => f[k]).join(','))].join('\n') + '\n');
  return file;
}

describe('fedmq as separate processes: broker, aggregator and three agents', () => {
  const start = processStarter();

  it('completes two rounds with accuracy well above chance, then everything shuts down cleanly', async () => {
    // Prepare: a broker on a free port.
    const broker = start(['broker', '--host', '127.0.0.1', '--port', '0']);
    const [, url] = await broker.waitFor(/broker listening on (mqtt:\/\/\S+)/);

    // Execute: an aggregator that waits for three devices, and three agents on an IID split.
    const aggregator = start(['aggregator', '--broker', url!, '--fleet', 'it', '--rounds', '2', '--min-devices', '3', '--round-timeout', '120', '--seed', '3', '--codec', 'topk:0.01+int8+ef']);
    // An error-feedback codec keeps a residual on disk: in a scratch folder, not ~/.fedmq.
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-agents-'));
    const agents = [0, 1, 2].map((i) => start(['agent', '--broker', url!, '--fleet', 'it', '--id', `pi-${i}`, '--data', `mnist:iid:${i}/3`, '--seed', '3', '--state-dir', stateDir]));
    const code = await aggregator.exit();

    // Assert
    const rounds = aggregator.lines.filter((l) => l.startsWith('round ') && l.includes(' acc '));
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(rounds).toHaveLength(2);
    const accuracies = rounds.map((l) => Number(/acc (\d\.\d+)/.exec(l)![1]));
    expect(accuracies[1]!).toBeGreaterThan(0.5); // chance is 0.1
    expect(rounds.every((l) => l.includes('participants 3/3'))).toBe(true);
    for (const agent of agents) {
      await agent.waitFor(/round 2: published/);
      expect(await agent.stop()).toBe(0);
      expect(agent.lines).toContain('agent stopped');
    }
    // Each agent saved what its sparse updates left out, to carry into its next round, and the global it now holds.
    expect(readdirSync(stateDir).sort()).toEqual(['model.safetensors', 'pi-0.residual', 'pi-1.residual', 'pi-2.residual']);
    expect(await broker.stop()).toBe(0);
    expect(broker.lines).toContain('broker closed');
  }, 240_000);

  it('runs async mode (FedBuff) with real agents: a new global every two updates, stale ones counted', async () => {
    const broker = start(['broker', '--host', '127.0.0.1', '--port', '0']);
    const [, url] = await broker.waitFor(/broker listening on (mqtt:\/\/\S+)/);
    const aggregator = start(['aggregator', '--broker', url!, '--fleet', 'async', '--mode', 'async', '--buffer', '2', '--rounds', '4', '--min-devices', '3', '--codec', 'f32', '--seed', '3']);
    const agents = [0, 1, 2].map((i) => start(['agent', '--broker', url!, '--fleet', 'async', '--id', `pi-${i}`, '--data', `mnist:iid:${i}/3`, '--seed', '3']));
    const code = await aggregator.exit();

    const globals = aggregator.lines.filter((l) => l.startsWith('round ') && l.includes(' acc '));
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(globals).toHaveLength(4);
    expect(globals.every((l) => l.includes('updates 2'))).toBe(true);
    expect(Number(/acc (\d\.\d+)/.exec(globals[3]!)![1])).toBeGreaterThan(0.5);
    // Three devices train at once and two make a global: some update joins a newer global than it started from.
    expect(globals.some((l) => /staleness \d\.\d \(max [1-9]/.test(l))).toBe(true);
    for (const p of [...agents, broker]) expect(await p.stop()).toBe(0);
  }, 240_000);

  it('trains a user\'s task across processes: the aggregator publishes the task file, devices bring only their own CSV', async () => {
    // Prepare: two motes with events, each agent with its own file and nothing else.
    const broker = start(['broker', '--host', '127.0.0.1', '--port', '0']);
    const [, url] = await broker.waitFor(/broker listening on (mqtt:\/\/\S+)/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-motes-'));
    const task = fileURLToPath(new URL('../examples/sensor/task.json', import.meta.url));

    // Execute
    const aggregator = start(['aggregator', '--broker', url!, '--fleet', 'motes', '--task', task, '--rounds', '2', '--min-devices', '2', '--codec', 'f32', '--round-timeout', '120']);
    const agents = ['1', '4'].map((mote) => start([
      'agent', '--broker', url!, '--fleet', 'motes', '--id', `mote-${mote}`, '--data', moteFile(dir, mote), '--time', 'reading', '--window', '30', '--state-dir', dir,
    ]));
    const code = await aggregator.exit();

    // Assert: statistics before round 1, then two rounds each evaluated on both motes' held-out windows.
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(aggregator.lines.some((l) => /^statistics: 2 device\(s\), \d+ readings; mean /.test(l))).toBe(true);
    const rounds = aggregator.lines.filter((l) => l.startsWith('round ') && l.includes('fleet['));
    expect(rounds, aggregator.lines.join('\n')).toHaveLength(2);
    expect(rounds.every((l) => l.includes('fleet[2 dev') && l.includes('participants 2/2'))).toBe(true);
    for (const agent of agents) {
      await agent.waitFor(/round 2: evaluated global 2 on \d+ held-out examples/);
      expect(agent.lines.some((l) => /sent feature statistics/.test(l))).toBe(true);
      expect(await agent.stop()).toBe(0);
    }
    expect(await broker.stop()).toBe(0);
  }, 240_000);
});
