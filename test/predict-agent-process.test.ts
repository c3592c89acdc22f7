import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSavedModel } from '../device-agent/index.js';
import { brokerFixture, mnistSlice } from './helpers.js';
import { RawAggregator, roundFor } from './agent-support.js';
import { FedmqProcess } from './processes.js';

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-serve-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

describe('fedmq agent --serve as its own process', () => {
  const fixture = brokerFixture();

  it('serves the global it keeps once it trained a round, and after a restart serves the kept one from the start', async () => {
    // Prepare: a broker, a hand-driven aggregator, and the agent process with --serve on a free loopback port.
    const broker = await fixture.start();
    const aggregator = await RawAggregator.connect(broker.url);
    fixture.cleanup(() => aggregator.end());
    const args = ['agent', '--broker', broker.url, '--fleet', 'test', '--id', 'pi-serve', '--data', 'mnist:iid:0/60', '--state-dir', stateDir, '--serve', '127.0.0.1:0'];
    const agent = new FedmqProcess(args);
    fixture.cleanup(() => agent.stop());
    const [, base] = await agent.waitFor(/serving predictions on (http:\/\/127\.0\.0\.1:\d+)\/predict/);
    await agent.waitFor(/^agent pi-serve: /);
    const before = await fetch(`${base}/health`);
    // Execute: a round; the agent keeps global v0 and serves it.
    await aggregator.startRound(roundFor(['pi-serve'], 1, Date.now() + 60_000));
    await aggregator.updateFor('pi-serve', 1, 60_000);
    const [, runtime] = await agent.waitFor(/^predictions: global v0 on (\S+)/);
    const test = await mnistSlice(2);
    const body = JSON.stringify({ inputs: [Array.from(test.x.subarray(0, 784)), Array.from(test.x.subarray(784, 1568))] });
    const answer = await fetch(`${base}/predict`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const json = (await answer.json()) as { outputs: number[][]; classes: number[]; version: number; runtime: string };
    expect(await agent.stop()).toBe(0);
    // ... restarted with the broker's retained state gone: it serves what it kept.
    await aggregator.publish('global', new Uint8Array(0));
    await aggregator.publish('task', new Uint8Array(0));
    const again = new FedmqProcess(args);
    fixture.cleanup(() => again.stop());
    const [, base2] = await again.waitFor(/serving predictions on (http:\/\/127\.0\.0\.1:\d+)\/predict/);
    await again.waitFor(/^predictions: global v0 on /);
    const health = (await (await fetch(`${base2}/health`)).json()) as { ready: boolean; version: number };
    // Assert
    expect(before.status).toBe(503);
    expect(answer.status).toBe(200);
    expect(json.outputs).toHaveLength(2);
    expect(json.classes).toHaveLength(2);
    expect(json.version).toBe(0);
    expect(json.runtime).toBe(runtime);
    expect(agent.lines.some((l) => l.startsWith(`global v0 (round 0) kept in ${path.join(stateDir, 'model.safetensors')}`))).toBe(true);
    expect(existsSync(path.join(stateDir, 'model.safetensors'))).toBe(true);
    expect((await loadSavedModel(stateDir))?.version).toBe(0);
    expect(health).toMatchObject({ ready: true, version: 0 });
  }, 120_000);
});
