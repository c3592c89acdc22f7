import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTrainPolicy, readResources } from '../device-agent/index.js';
import { FleetState, renderTerminal, type MonitorSnapshot } from '../monitor/index.js';
import { build, encodeMessage } from '../protocol/index.js';
import { brokerFixture, mnistSlice, topics } from './helpers.js';
import { startAgent, waitFor } from './agent-support.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fedmq-monitor-sys-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Only what views.ts touches of the page: elements by id, table bodies and a header row, text. */
class FakeElement {
  textContent = '';
  className = '';
  hidden = false;
  readonly dataset: Record<string, string> = {};
  readonly style: Record<string, string> = {};
  children: FakeElement[] = [];
  private body: FakeElement | undefined;
  private head: { rows: FakeElement[] } | undefined;
  constructor(readonly tagName: string) {}
  get tBodies(): FakeElement[] {
    this.body ??= new FakeElement('tbody');
    return [this.body];
  }
  get tHead(): { rows: FakeElement[] } | undefined {
    if (this.tagName !== 'table') return undefined;
    this.head ??= { rows: [Object.assign(new FakeElement('tr'), { children: ['ID', 'State', 'Last seen'].map((t) => Object.assign(new FakeElement('th'), { textContent: t })) })] };
    return this.head;
  }
  get cells(): FakeElement[] {
    return this.children;
  }
  querySelector(selector: string): FakeElement | null {
    return this.children.find((c) => `.${c.className}` === selector) ?? null;
  }
  insertBefore(node: FakeElement, before: FakeElement | null): void {
    const at = before === null ? -1 : this.children.indexOf(before);
    if (at < 0) this.children.push(node);
    else this.children.splice(at, 0, node);
  }
  append(...nodes: FakeElement[]): void {
    this.children.push(...nodes);
  }
  replaceChildren(...nodes: FakeElement[]): void {
    this.children = nodes;
  }
}

/** Stands in for the page's `Document` (not in this program's types). */
type FakeDocument = { getElementById(id: string): FakeElement; createElement(tag: string): FakeElement };

function fakeDocument(): { doc: FakeDocument; el(id: string): FakeElement } {
  const elements = new Map<string, FakeElement>();
  const el = (id: string): FakeElement => {
    let e = elements.get(id);
    if (!e) elements.set(id, (e = new FakeElement(id === 'devices' ? 'table' : 'div')));
    return e;
  };
  return { doc: { getElementById: el, createElement: (tag: string) => new FakeElement(tag) }, el };
}

describe('the monitor shows a busy device, why, and what it can spare', () => {
  const fixture = brokerFixture();

  it('in the terminal view and the dashboard table, with whatever a device sends as its reason printed escaped', async () => {
    // Prepare: a real agent on battery at 30% with --train-when charging, a hostile device with control characters in its reason.
    for (const [file, content] of Object.entries({
      'sys/class/power_supply/BAT0/type': 'Battery', 'sys/class/power_supply/BAT0/status': 'Discharging', 'sys/class/power_supply/BAT0/capacity': '30',
      'sys/class/thermal/thermal_zone0/type': 'cpu-thermal', 'sys/class/thermal/thermal_zone0/temp': '61800',
    })) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), `${content}\n`);
    }
    const broker = await fixture.start();
    const { agent, client } = await startAgent(broker.url, 'pi-busy', await mnistSlice(20, 'train'), {
      policy: parseTrainPolicy('charging,cpu-temp<70'), resources: () => readResources({ root, loadavg: () => [0.5], cpus: () => 2, freemem: () => 0 }),
    });
    fixture.cleanup(() => client.endAsync(), () => agent.stop());
    const hostile = await mqtt.connectAsync(broker.url, { clientId: 'evil', reconnectPeriod: 0 });
    fixture.cleanup(() => hostile.endAsync());
    await hostile.publishAsync(topics.status('evil'), Buffer.from(encodeMessage(build.status({
      deviceId: 'evil', state: 'busy', ts: Date.now(), reason: 'hot\x1b[2J\x1b]0;owned\x07', resources: { cpuTempC: 99 },
    }))), { qos: 1, retain: true });
    // Execute: a monitor's state fed from the broker.
    const state = new FleetState({ fleet: 'test' });
    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'watcher', reconnectPeriod: 0 });
    fixture.cleanup(() => watcher.endAsync());
    watcher.on('message', (topic, payload, packet) => state.ingest(topic, payload, packet.retain, Date.now()));
    await watcher.subscribeAsync(topics.allStatus, { qos: 1 });
    await waitFor('both devices seen busy', () => state.snapshot(Date.now()).devices.busy === 2, 5_000);
    const snapshot = state.snapshot(Date.now());
    const lines = renderTerminal(snapshot, { width: 160 });
    const { doc, el } = fakeDocument();
    // The dashboard's views are typed against the DOM (monitor/web/client/tsconfig.json): loaded
    // by a name in a variable so that this (Node-typed) program does not take them in.
    const views = '../monitor/web/client/views.js';
    const { renderSummary } = (await import(views)) as { renderSummary: (doc: FakeDocument, s: MonitorSnapshot) => void };
    renderSummary(doc, snapshot);
    // Assert: the terminal view.
    const text = lines.join('\n');
    expect(text).toMatch(/Devices 2: 0 online, 0 training, 2 busy, 0 offline/);
    expect(text).toContain('RESOURCES');
    const row = lines.find((l) => l.includes('pi-busy'))!;
    expect(row.endsWith('battery 30%  62C  load 0.25  0 MB free')).toBe(true);
    expect(row).toMatch(/ busy /);
    expect(lines[lines.indexOf(row) + 1]).toBe('    busy: charging: on battery (30%)');
    expect(text).toContain('    busy: hot\\x1b[2J\\x1b]0;owned\\x07');
    expect(text).not.toContain('\x1b');
    // ... and the dashboard's devices table: the reason with the state, the resources after it.
    const rows = el('devices').tBodies[0]!.children.map((tr) => tr.children.map((td) => td.textContent));
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['evil', 'busy: hot\\x1b[2J\\x1b]0;owned\\x07', '99C'],
      ['pi-busy', 'busy: charging: on battery (30%)', 'battery 30%  62C  load 0.25  0 MB free'],
    ]);
    expect(el('devices').tHead!.rows[0]!.children.map((th) => th.textContent)).toEqual(['ID', 'State', 'Resources', 'Last seen']);
    expect(el('kpi-devices-detail').textContent).toBe('0 online · 0 training · 2 busy · 0 offline');
  });
});
