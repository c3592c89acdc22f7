import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import type { MonitorSnapshot } from '../monitor/index.js';
import { Simulation } from '../simulator/index.js';
import { eventually } from './monitor-support.js';
import { FedmqProcess } from './processes.js';

describe('fedmq monitor --json', () => {
  let broker: BrokerHandle | undefined;
  let monitor: FedmqProcess | undefined;
  afterEach(async () => {
    await monitor?.stop();
    await broker?.close();
  });

  const snapshots = (p: FedmqProcess): MonitorSnapshot[] =>
    p.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as MonitorSnapshot);

  it('prints a snapshot a second in which the round advances and the devices match the simulation', async () => {
    // Prepare: a broker, the monitor attached to it, and a small simulation on the same broker.
    broker = await startBroker({ host: '127.0.0.1', port: 0 });
    const publishers = new Set<string>();
    broker.aedes.on('publish', (_packet, client) => {
      if (client) publishers.add(client.id);
    });
    monitor = new FedmqProcess(['monitor', '--json', '--broker', broker.url]);
    await eventually('the monitor to connect', () => snapshots(monitor!).find((s) => s.connection.state === 'connected'));
    // Execute
    const report = await new Simulation({ devices: 3, rounds: 3, brokerUrl: broker.url, backend: 'wasm' }).run();
    const last = await eventually('round 3 in the history', () => snapshots(monitor!).find((s) => s.history.length === 3 && s.devices.offline === 3));
    // Assert: every output line is a snapshot, about one a second.
    const all = snapshots(monitor);
    expect(monitor.lines.every((l) => l.startsWith('{'))).toBe(true);
    const seconds = (all.at(-1)!.ts - all[0]!.ts) / 1000;
    expect(all.length).toBeGreaterThanOrEqual(Math.floor(seconds * 0.8));
    // The round counter only goes up, through the three rounds.
    const rounds = all.flatMap((s) => (s.round ? [s.round.round] : []));
    expect(rounds).toEqual([...rounds].sort((a, b) => a - b));
    expect(new Set(rounds).size).toBeGreaterThanOrEqual(2);
    expect(rounds.at(-1)).toBe(3);
    expect(all.every((s) => s.round === null || s.round.expected === 3)).toBe(true);
    // While training, the monitor saw the simulation's three devices, all present.
    const busy = all.filter((s) => s.round && !s.round.closed);
    expect(busy.length).toBeGreaterThan(0);
    for (const s of busy) expect(s.devices.total).toBe(3);
    expect(busy.some((s) => s.devices.online + s.devices.training === 3)).toBe(true);
    expect(last.devices.list.map((d) => d.id)).toEqual(['device-0', 'device-1', 'device-2']);
    expect(last.devices.list.every((d) => d.backend === 'wasm' && d.lastUpdateRound === 3 && d.lastUpdateBytes! > 0)).toBe(true);
    // Its history is the run report's.
    expect(last.history.map((h) => h.accuracy)).toEqual(report.rounds.map((r) => r.accuracy));
    expect(last.history.map((h) => h.bytesUp)).toEqual(report.rounds.map((r) => r.bytesUp));
    expect(last.traffic.update!.messages).toBe(9);
    expect(last.broker.sys).toBe('allowed');
    // And it only read: no PUBLISH ever came from it.
    expect([...publishers].filter((id) => id.startsWith('fedmq-monitor-'))).toEqual([]);
    expect(await monitor.stop()).toBe(0);
  }, 90_000);
});
