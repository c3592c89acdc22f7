import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext } from 'playwright-core';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { Simulation } from '../simulator/index.js';
import { FedmqProcess } from './processes.js';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const SCREENSHOT = 'test-artifacts/dashboard.png';

describe('fedmq monitor --web', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('serves a dashboard whose device table and accuracy chart fill with live values from the broker', async () => {
    // A missing browser is a broken environment, not a reason to pass quietly.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the dashboard test drives Debian's chromium. Install it with \`apt-get install -y chromium\` (.ci/run does).`);
    }
    // Prepare: a broker with a WebSocket listener, the dashboard server, and chromium on its page.
    const broker: BrokerHandle = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
    cleanup.push(() => broker.close());
    const server = new FedmqProcess(['monitor', '--web', '0', '--ws-url', broker.wsUrl!]);
    cleanup.push(() => server.stop());
    const [, pageUrl] = await server.waitFor(/^dashboard on (http:\S+)/);
    const profile = mkdtempSync(join(tmpdir(), 'fedmq-chromium-'));
    cleanup.push(() => rmSync(profile, { recursive: true, force: true }));
    const browser: BrowserContext = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 },
    });
    cleanup.push(() => browser.close());
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pageUrl!);
    await page.locator('#connection.connected').waitFor({ timeout: 15_000 });

    // Execute: a small simulation on the same broker while the page watches.
    const simulation = new Simulation({ devices: 3, rounds: 3, brokerUrl: broker.url, backend: 'wasm' });
    const running = simulation.run();
    // Assert: during the run, all three devices show up live in the table...
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#devices tbody tr')] as HTMLElement[];
      return rows.length === 3 && rows.every((r) => r.dataset.state === 'online' || r.dataset.state === 'training');
    }, undefined, { timeout: 60_000 });
    // ...and the charts gain a point per closed round.
    await page.waitForFunction(() => Number((document.getElementById('accuracy-chart') as HTMLElement).dataset.points) >= 2, undefined, { timeout: 60_000 });
    const report = await running;
    await page.waitForFunction(() => Number((document.getElementById('accuracy-chart') as HTMLElement).dataset.points) === 3, undefined, { timeout: 10_000 });
    const ids = await page.locator('#devices tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.device));
    expect(ids).toEqual(['device-0', 'device-1', 'device-2']);
    expect(await page.locator('#kpi-accuracy').textContent()).toBe(report.final.accuracy.toFixed(4));
    expect(await page.locator('#kpi-round').textContent()).toBe('3');
    for (const id of ['loss-chart', 'bytes-chart', 'participants-chart']) {
      expect(await page.locator(`#${id}`).getAttribute('data-points')).toBe('3');
    }
    // The topic explorer decodes an update with its codec.
    await page.locator('#topics tbody tr[data-topic="fedmq/v1/default/update/device-1"]').click();
    await expect.poll(() => page.locator('#topic-payload').textContent()).toContain('"l2"');
    expect(errors).toEqual([]);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }, 120_000);
});
