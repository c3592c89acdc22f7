import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Coordinator, connectAggregator } from '../aggregator/index.js';
import type { DeviceRecord } from '../aggregator/registry.js';
import { parseTrainPolicy, readResources, type AgentEvents } from '../device-agent/index.js';
import mqtt from 'mqtt';
import { ManualClock, decodeMessage, type RoundMessage, type StatusMessage } from '../protocol/index.js';
import { aggregatorFixture, brokerFixture, mnistSlice, topics } from './helpers.js';
import { RawAggregator, roundFor, sleep, startAgent, waitFor } from './agent-support.js';

const T0 = 1_700_000_000_000;

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fedmq-policy-sys-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fake /sys: a mains supply and a battery at `percent`, plugged in or not. */
async function power(pluggedIn: boolean, percent: number): Promise<void> {
  const files: Record<string, string> = {
    'sys/class/power_supply/AC/type': 'Mains', 'sys/class/power_supply/AC/online': pluggedIn ? '1' : '0',
    'sys/class/power_supply/BAT0/type': 'Battery', 'sys/class/power_supply/BAT0/status': pluggedIn ? 'Charging' : 'Discharging',
    'sys/class/power_supply/BAT0/capacity': String(percent),
    'sys/class/thermal/thermal_zone0/type': 'cpu-thermal', 'sys/class/thermal/thermal_zone0/temp': '51234',
  };
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), `${content}\n`);
  }
}

type Status = { state: AgentEvents['status'][0] } & AgentEvents['status'][1];

describe('--train-when charging with the real coordinator', () => {
  const fixture = aggregatorFixture();

  it('a device on battery at 30% says busy with its reason and resources and is never selected; plugged in, it is selected again', async () => {
    // Prepare: dev-a trains whenever asked; dev-b only when charging, and it is on battery.
    await power(false, 30);
    const { broker, control, evaluator } = await fixture.start();
    // What dev-b publishes, as anyone on the broker reads it.
    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'status-watcher', reconnectPeriod: 0 });
    fixture.cleanup(() => watcher.endAsync());
    const published: StatusMessage[] = [];
    watcher.on('message', (_topic, payload) => published.push(decodeMessage('status', payload)));
    await watcher.subscribeAsync(topics.status('dev-b'), { qos: 1 });
    const a = await startAgent(broker.url, 'dev-a', await mnistSlice(100, 'train'));
    const b = await startAgent(broker.url, 'dev-b', await mnistSlice(100, 'train'), {
      policy: parseTrainPolicy('charging'), resources: () => readResources({ root }), policyEveryMs: 100,
    });
    fixture.cleanup(() => a.client.endAsync(), () => a.agent.stop(), () => b.client.endAsync(), () => b.agent.stop());
    const statuses: Status[] = [];
    b.agent.on('status', (state, info) => statuses.push({ state, ...info }));
    const settings = { fleet: 'test', minDevices: 2, codec: 'f32', roundTimeoutMs: 20_000 } as const;
    const rounds: RoundMessage[] = [];
    const seen: DeviceRecord[] = [];
    // Execute: two rounds on battery.
    const onBattery = new Coordinator({ ...settings, rounds: 2 }, { client: control, evaluate: evaluator });
    onBattery.on('roundStarted', (r) => rounds.push(r));
    onBattery.on('deviceStatus', (d) => seen.push(d));
    const first = await onBattery.run();
    // ... then plugged in: the next check (100 ms on its clock) says online, and a new run selects it.
    await power(true, 31);
    await waitFor('dev-b online again', () => statuses.at(-1)?.state === 'online', 5_000);
    // A fresh aggregator connection: mqtt.js does not subscribe again to what a client holds, so a reused one would get no retained statuses.
    const control2 = await connectAggregator({ url: broker.url, fleet: 'test' });
    fixture.cleanup(() => control2.endAsync());
    const pluggedIn = new Coordinator({ ...settings, rounds: 1 }, { client: control2, evaluate: evaluator });
    pluggedIn.on('roundStarted', (r) => rounds.push(r));
    const second = await pluggedIn.run();
    await waitFor('dev-b online after its round', () => published.length === 4, 5_000);
    // Assert: the coordinator saw dev-b busy, with why and what it can spare, and left it out.
    const busy = seen.find((d) => d.deviceId === 'dev-b' && d.state === 'busy');
    expect(busy?.resources).toEqual({ onAc: false, batteryPercent: 30, cpuTempC: 51.2, load: expect.any(Number), freeMemMb: expect.any(Number) });
    expect(published[0]).toMatchObject({ state: 'busy', reason: 'charging: on battery (30%)', resources: { onAc: false, batteryPercent: 30, cpuTempC: 51.2 } });
    expect(published.map((m) => m.state)).toEqual(['busy', 'online', 'training', 'online']);
    expect(rounds.map((r) => r.participants)).toEqual([['dev-a'], ['dev-a'], ['dev-a', 'dev-b']]);
    expect(first.map((r) => r.accepted)).toEqual([1, 1]);
    expect(second[0]!.accepted).toBe(2);
    expect(b.events.trainingStarted.map((r) => r.round)).toEqual([1]);
    expect(b.events.roundSkipped.filter((s) => s.reason === 'busy')).toEqual([]);
    // Every status carries the resources; online again, with no reason.
    for (const s of statuses) expect(s.resources?.cpuTempC).toBe(51.2);
    expect(statuses.at(-1)).toEqual({ state: 'online', resources: expect.objectContaining({ onAc: true, batteryPercent: 31 }) });
    expect(b.events.warning).toEqual([]);
  });
});

describe('an agent whose policy declines work', () => {
  const fixture = brokerFixture();

  it('skips a round that chose it as busy, says online at the next check on its clock, and trains the next round', async () => {
    // Prepare
    await power(false, 55);
    const broker = await fixture.start();
    const aggregator = await RawAggregator.connect(broker.url);
    fixture.cleanup(() => aggregator.end());
    const clock = new ManualClock(T0);
    const { agent, client, events } = await startAgent(broker.url, 'dev-p', await mnistSlice(100, 'train'), {
      clock, policy: parseTrainPolicy('charging,battery>50'), resources: () => readResources({ root }), policyEveryMs: 30_000,
    });
    fixture.cleanup(() => client.endAsync(), () => agent.stop());
    const statuses: Status[] = [];
    agent.on('status', (state, info) => statuses.push({ state, ...info }));
    // Execute: a round chooses it while on battery (chosen before the aggregator saw it busy).
    await aggregator.startRound(roundFor(['dev-p'], 1, T0 + 60_000));
    await waitFor('round 1 declined', () => events.roundSkipped.length > 0, 5_000);
    await power(true, 55);
    await sleep(100);
    const beforeCheck = statuses.length;
    clock.advanceTo(T0 + 30_000);
    await waitFor('online again', () => statuses.at(-1)?.state === 'online', 5_000);
    await aggregator.publish('round', roundFor(['dev-p'], 2, T0 + 60_000));
    await aggregator.updateFor('dev-p', 2, 20_000);
    await waitFor('online after training', () => statuses.length === 3, 5_000);
    // Assert
    expect(events.roundSkipped).toEqual([{ round: 1, reason: 'busy' }]);
    expect(events.trainingStarted.map((r) => r.round)).toEqual([2]);
    expect(aggregator.updates.map((u) => u.round)).toEqual([2]);
    expect(beforeCheck).toBe(0);
    expect(statuses.map((s) => s.state)).toEqual(['online', 'training', 'online']);
    expect(statuses[0]!.resources).toMatchObject({ onAc: true, batteryPercent: 55 });
    expect(events.warning).toEqual([]);
  });
});
