import { afterAll, describe, expect, it } from 'vitest';
import { credentialHooks, hashPassword, parseCredentials, startBroker, type BrokerHandle } from '../broker/index.js';
import { launchChromium } from './monitor-support.js';
import { FedmqProcess } from './processes.js';

describe('the dashboard against a broker with --auth', () => {
  let broker: BrokerHandle | undefined;
  let web: FedmqProcess | undefined;
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;
  afterAll(async () => {
    await chrome?.close();
    await web?.stop();
    await broker?.close();
  });

  it('asks for a login when the broker refuses it, then connects with a monitor role', async () => {
    // Prepare: a broker that requires logins, with a monitor login; the dashboard server.
    const credentials = parseCredentials(`monitor viewer ${await hashPassword('look-only')}`);
    broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, hooks: credentialHooks(credentials) });
    web = new FedmqProcess(['monitor', '--web', '0', '--ws-url', broker.wsUrl!]);
    const [, pageUrl] = await web.waitFor(/^dashboard on (http:\S+)/);
    chrome = await launchChromium();
    const page = await chrome.browser.newPage();
    await page.goto(pageUrl!);

    // Execute: the refused page shows its form; a wrong password first, then the right one.
    const form = page.locator('#login');
    await form.waitFor({ state: 'visible', timeout: 15_000 });
    await page.fill('#login input[name=username]', 'viewer');
    await page.fill('#login input[name=password]', 'wrong');
    // Submitting reloads the page: wait for the new one before looking at its form.
    await Promise.all([page.waitForEvent('load'), page.click('#login button')]);
    await form.waitFor({ state: 'visible', timeout: 15_000 });
    const refusedBadge = await page.locator('#connection').textContent();
    await page.fill('#login input[name=username]', 'viewer');
    await page.fill('#login input[name=password]', 'look-only');
    await Promise.all([page.waitForEvent('load'), page.click('#login button')]);

    // Assert
    await page.locator('#connection.connected').waitFor({ timeout: 15_000 });
    expect(refusedBadge).toMatch(/bad username or password/i);
    expect(await form.isHidden()).toBe(true);
  }, 60_000);
});
