import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { build, builtinTask, encodeMessage, fleetTopics, taskLayout } from '../protocol/index.js';
import { launchChromium } from './monitor-support.js';
import { FedmqProcess } from './processes.js';

// The page's globals as far as the checks below use them: this file compiles without the DOM library.
type PageElement = { textContent: string | null; children: ArrayLike<PageElement> };
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> };

const topics = fleetTopics('default');
const CLEAR = '\x1b[2J';

/**
 * The dashboard in chromium, on retained messages a hand-driven "aggregator" and device left on
 * the broker: an evaluate phase, a device's evaluation, and metrics with a federated evaluation.
 */
describe('the dashboard shows federated evaluation', () => {
  let broker: BrokerHandle | undefined;
  let web: FedmqProcess | undefined;
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;
  const clients: mqtt.MqttClient[] = [];
  afterAll(async () => {
    await chrome?.close();
    await web?.stop();
    for (const c of clients) await c.endAsync();
    await broker?.close();
  });

  it('fills the evaluation panel, the round card and the device table from the traffic', async () => {
    // Prepare: the fleet's messages, retained, before the page opens.
    broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
    const hub = await mqtt.connectAsync(broker.url, { clientId: 'aggregator' });
    clients.push(hub);
    const retain = { retain: true, qos: 1 } as const;
    const mlp = builtinTask('mlp');
    await hub.publishAsync(topics.task, Buffer.from(encodeMessage(build.task({ model: 'mlp', task: mlp, paramCount: taskLayout(mlp).paramCount, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 20, lr: 0.05 } }))), retain);
    const federated = {
      globalVersion: 4, devices: 3, count: 600, loss: 0.31, metrics: { accuracy: 0.9, [`odd${CLEAR}`]: 0.5 },
      spread: { loss: { min: 0.2, median: 0.3, max: 0.45 }, accuracy: { min: 0.85, median: 0.91, max: 0.95 } },
    };
    await hub.publishAsync(topics.metrics, Buffer.from(encodeMessage(build.metrics({
      round: 4, accuracy: 0.92, loss: 0.28, central: { accuracy: 0.92 }, federated, participants: 3, accepted: 3, rejected: 0, rejectedByReason: {},
      bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 1,
    }))), retain);
    await hub.publishAsync(topics.round, Buffer.from(encodeMessage(build.round({
      kind: 'evaluate', round: 5, globalVersion: 5, participants: ['pi-1', 'pi-2', 'pi-3'], deadline: Date.now() + 600_000, codec: 'f32', seed: 1, epochs: 1, batchSize: 20, lr: 0.05,
    }))), retain);
    web = new FedmqProcess(['monitor', '--web', '0', '--ws-url', broker.wsUrl!]);
    const [, pageUrl] = await web.waitFor(/^dashboard on (http:\S+)/);
    chrome = await launchChromium({ width: 1400, height: 1000 });
    const page = await chrome.browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(pageUrl!);
    await page.locator('#connection.connected').waitFor({ timeout: 15_000 });

    // Execute: pi-1 answers the evaluate round (live, as a device would).
    const device = await mqtt.connectAsync(broker.url, { clientId: 'pi-1' });
    clients.push(device);
    await device.publishAsync(topics.update('pi-1'), Buffer.from(encodeMessage(build.evaluation({ round: 5, deviceId: 'pi-1', globalVersion: 5, count: 200, loss: 0.25, metrics: { accuracy: 0.935 }, sums: {} }))), { qos: 1 });

    // Assert
    await page.locator('#evaluation-panel:not([hidden])').waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 1, undefined, { timeout: 15_000 });
    const cells = (selector: string): Promise<string[][]> =>
      page.evaluate((s) => Array.from(document.querySelectorAll(s), (tr) => Array.from(tr.children, (td) => td.textContent ?? '')), selector);
    expect(await cells('#evaluation tbody tr')).toEqual([
      ['loss', '0.3100', '0.2000', '0.3000', '0.4500', '0.2800'],
      ['accuracy', '0.9000', '0.8500', '0.9100', '0.9500', '0.9200'],
      // A metric name from the network is text, never markup; the page shows it as sent.
      [`odd${CLEAR}`, '0.5000', '–', '–', '–', '–'],
    ]);
    expect(await page.locator('#evaluation-detail').textContent()).toBe('round 4 · global v4 on 3 devices, 600 held-out examples');
    expect(await page.locator('#kpi-round-detail').textContent()).toBe('round 5: evaluating on 3 devices (1 / 3)');
    expect(await page.locator('#devices-eval-metric').textContent()).toBe('Eval accuracy');
    const [row] = await cells('#devices tbody tr');
    expect(row!.slice(0, 1).concat(row!.slice(-2))).toEqual(['pi-1', '0.2500', '0.9350']);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
