import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { TestAuthority } from '../broker/testSupport.js';
import { CHROMIUM } from './monitor-support.js';
import { FedmqProcess } from './processes.js';

/**
 * Headless chromium that trusts exactly `spki` (base64 SHA-256 of a certificate's public key), as a
 * browser trusts a fleet's CA once it is installed; none when `spki` is undefined.
 */
async function chromiumTrusting(spki: string | undefined): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does).`);
  const profile = mkdtempSync(join(tmpdir(), 'fedmq-chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (spki !== undefined) args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

describe('the dashboard over wss://', () => {
  const closing: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const close of closing.reverse()) await close();
  });

  it("needs nothing but the broker's wss:// URL, and connects only when the browser trusts the broker's certificate", async () => {
    // Prepare: a broker with a secure WebSocket listener; the dashboard pointed at it; one browser that trusts the broker's key, one that does not.
    const pki = await TestAuthority.create();
    closing.push(() => pki.remove());
    const broker: BrokerHandle = await startBroker({ host: '127.0.0.1', port: 0, tls: { ...pki.broker, port: 0, wssPort: 0 } });
    closing.push(() => broker.close());
    const web = new FedmqProcess(['monitor', '--web', '0', '--ws-url', broker.wssUrl!]);
    closing.push(() => web.stop());
    const [, pageUrl] = await web.waitFor(/^dashboard on (http:\S+)/);
    const spki = createHash('sha256').update(new X509Certificate(pki.broker.cert).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const trusting = await chromiumTrusting(spki);
    closing.push(() => trusting.close());
    const wary = await chromiumTrusting(undefined);
    closing.push(() => wary.close());

    // Execute
    const trusted = await trusting.browser.newPage();
    await trusted.goto(pageUrl!);
    const untrusted = await wary.browser.newPage();
    await untrusted.goto(pageUrl!);

    // Assert: connected over wss:// where the certificate is trusted; the other page never gets past the TLS handshake.
    await trusted.locator('#connection.connected').waitFor({ timeout: 15_000 });
    await vi.waitFor(() => expect(broker.stats().connectionsRefusedByReason['tls-handshake']).toBeGreaterThanOrEqual(1), { timeout: 15_000 });
    expect(await untrusted.locator('#connection.connected').count()).toBe(0);
    expect(broker.stats().clients).toBe(1);
  }, 60_000);
});
