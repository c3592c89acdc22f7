import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import type { MonitorSnapshot } from '../monitor/index.js';
import { Simulation } from '../simulator/index.js';
import type { RunReport } from '../simulator/index.js';
import { CHROMIUM, eventually, launchChromium } from './monitor-support.js';
import { FedmqProcess } from './processes.js';

const SCREENSHOT = 'test-artifacts/dashboard.png';

// The page's globals as far as the checks below use them: this file compiles without the DOM library.
type PageElement = { dataset: Record<string, string | undefined> };
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement>; getElementById(id: string): PageElement | null };

const snapshots = (p: FedmqProcess): MonitorSnapshot[] =>
  p.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as MonitorSnapshot);

/**
 * One small simulation watched at once by `fedmq monitor --json` and by the dashboard in
 * chromium: training is the slow part, so both features share it.
 */
describe('the monitor watching a live simulation', () => {
  let broker: BrokerHandle;
  let json: FedmqProcess;
  let web: FedmqProcess;
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let page: Page | undefined;
  const pageErrors: string[] = [];
  const publishers = new Set<string>();
  let run: Promise<RunReport>;
  /** Settles when the page showed all three devices live (online or training) during the run. */
  let liveTable: Promise<unknown> = Promise.resolve();

  beforeAll(async () => {
    // Prepare: a broker with a WebSocket listener; the two monitors attached before the fleet arrives.
    broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
    broker.aedes.on('publish', (_packet, client) => {
      if (client) publishers.add(client.id);
    });
    json = new FedmqProcess(['monitor', '--json', '--broker', broker.url]);
    web = new FedmqProcess(['monitor', '--web', '0', '--ws-url', broker.wsUrl!]);
    const [, pageUrl] = await web.waitFor(/^dashboard on (http:\S+)/);
    await eventually('the --json monitor to connect', () => snapshots(json).find((s) => s.connection.state === 'connected'));
    if (existsSync(CHROMIUM)) {
      chrome = await launchChromium({ width: 1400, height: 1000 });
      page = await chrome.browser.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      await page.goto(pageUrl!);
      await page.locator('#connection.connected').waitFor({ timeout: 15_000 });
      liveTable = page.waitForFunction(() => {
        const rows = Array.from(document.querySelectorAll('#devices tbody tr'));
        return rows.length === 3 && rows.every((r) => r.dataset.state === 'online' || r.dataset.state === 'training');
      }, undefined, { timeout: 60_000 });
      liveTable.catch(() => undefined);
    }
    // Execute: three devices, three rounds, on the monitors' broker.
    run = new Simulation({ devices: 3, rounds: 3, brokerUrl: broker.url, backend: 'wasm' }).run();
    run.catch(() => undefined);
  }, 60_000);

  afterAll(async () => {
    await run?.catch(() => undefined);
    await chrome?.close();
    await Promise.all([json?.stop(), web?.stop()]);
    await broker?.close();
  });

  it('--json prints a snapshot a second in which the round advances and the devices match the simulation', async () => {
    const report = await run;
    const last = await eventually('round 3 in the history', () => snapshots(json).find((s) => s.history.length === 3 && s.devices.offline === 3));
    // Assert: every output line is a snapshot, about one a second.
    const all = snapshots(json);
    expect(json.lines.every((l) => l.startsWith('{'))).toBe(true);
    expect(all.length).toBeGreaterThanOrEqual(Math.floor(((all.at(-1)!.ts - all[0]!.ts) / 1000) * 0.8));
    // The round counter only goes up, through the three rounds.
    const rounds = all.flatMap((s) => (s.round ? [s.round.round] : []));
    expect(rounds).toEqual([...rounds].sort((a, b) => a - b));
    expect(new Set(rounds).size).toBeGreaterThanOrEqual(2);
    expect(rounds.at(-1)).toBe(3);
    expect(all.every((s) => s.round === null || s.round.expected === 3)).toBe(true);
    // While a round was open, the monitor saw the simulation's three devices, all present.
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
    // And the monitors only read: no PUBLISH ever came from one.
    expect([...publishers].filter((id) => id.startsWith('fedmq-monitor-'))).toEqual([]);
    expect(await json.stop()).toBe(0);
  }, 90_000);

  it("--web serves a dashboard whose device table and accuracy chart fill with live values", async () => {
    // A missing browser is a broken environment, not a reason to pass quietly.
    if (!page) throw new Error(`${CHROMIUM} is missing: this test drives Debian's chromium. Install it with \`apt-get install -y chromium\` (.ci/run does).`);
    // Assert: during the run all three devices showed up live in the table...
    await liveTable;
    // ...and after it each chart has a point per round.
    const report = await run;
    await page.waitForFunction(() => Number(document.getElementById('accuracy-chart')?.dataset.points) === 3, undefined, { timeout: 10_000 });
    const ids = await page.locator('#devices tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as PageElement).dataset.device));
    expect(ids).toEqual(['device-0', 'device-1', 'device-2']);
    expect(await page.locator('#kpi-accuracy').textContent()).toBe(report.final.accuracy.toFixed(4));
    expect(await page.locator('#kpi-round').textContent()).toBe('3');
    for (const id of ['loss-chart', 'bytes-chart', 'participants-chart']) {
      expect(await page.locator(`#${id}`).getAttribute('data-points')).toBe('3');
    }
    // The topic explorer decodes an update with its codec, for its L2 norm.
    await page.locator('#topics tbody tr[data-topic="fedmq/v1/default/update/device-1"]').click();
    await expect.poll(() => page!.locator('#topic-payload').textContent()).toContain('"l2"');
    expect(pageErrors).toEqual([]);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }, 90_000);
});
