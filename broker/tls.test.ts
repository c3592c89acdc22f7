import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { startBroker } from './broker.js';
import { credentialHooks } from './hooks/index.js';
import { Fixture, TestAuthority, closedByBroker, connectOutcome, inbox, nextMessage, testCredentials } from './testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

let pki: TestAuthority;
let stranger: TestAuthority;
beforeAll(async () => {
  [pki, stranger] = await Promise.all([TestAuthority.create(), TestAuthority.create()]);
});
afterAll(async () => {
  await Promise.all([pki.remove(), stranger.remove()]);
});

/** The broker's TLS listeners with `pki`'s certificate; mutual TLS with `mutual`. */
function tlsBroker(mutual = false, extra: Parameters<Fixture['broker']>[0] = {}): ReturnType<Fixture['broker']> {
  return fixture.broker({ tls: { ...pki.broker, port: 0, wssPort: 0, ...(mutual && { ca: pki.ca, requireClientCert: true }) }, ...extra });
}

/** A connected client over TLS that trusts `pki`'s CA, with `cert` when given. */
async function tlsClient(url: string, clientId: string, cert?: { cert: string; key: string }): Promise<import('mqtt').MqttClient> {
  return fixture.client(url, { clientId, ca: pki.ca, ...cert });
}

describe('TLS listeners', () => {
  it('carry MQTT over TLS and over secure WebSocket for a client that trusts the broker’s CA', async () => {
    // Prepare
    const broker = await tlsBroker();
    const reader = await tlsClient(broker.tlsUrl!, 'reader');
    await reader.subscribeAsync('fedmq/v1/default/#');
    const writer = await tlsClient(broker.wssUrl!, 'pi-01');
    const delivered = nextMessage(reader, 'fedmq/v1/default/update/pi-01');

    // Execute
    await writer.publishAsync('fedmq/v1/default/update/pi-01', 'delta', { qos: 1 });

    // Assert
    expect((await delivered).payload.toString()).toBe('delta');
    expect(broker.tlsUrl).toBe(`mqtts://127.0.0.1:${broker.tlsPort}`);
    expect(broker.wssUrl).toBe(`wss://127.0.0.1:${broker.wssPort}`);
    expect(new Set([broker.port, broker.tlsPort, broker.wssPort]).size).toBe(3);
  });

  it('cannot be reached by a plain-text MQTT client', async () => {
    // Prepare
    const broker = await tlsBroker();
    const clients: string[] = [];
    broker.aedes.on('client', (c) => clients.push(c.id));

    // Execute
    const outcome = await connectOutcome(`mqtt://127.0.0.1:${broker.tlsPort}`, { clientId: 'plain' });

    // Assert
    expect(outcome.connected).toBe(false);
    await vi.waitFor(() => expect(broker.stats().connectionsRefusedByReason['tls-handshake']).toBe(1));
    expect(clients).toEqual([]);
  });

  it.each([
    ['without a CA', {}],
    ['with another CA', { ca: '' }],
  ])('is refused by a client that does not trust the broker’s certificate (%s)', async (_case, options) => {
    // Prepare
    const broker = await tlsBroker();
    const ca = 'ca' in options ? { ca: stranger.ca } : {};

    // Execute
    const outcomes = [await connectOutcome(broker.tlsUrl!, { clientId: 'wary', ...ca }), await connectOutcome(broker.wssUrl!, { clientId: 'wary', ...ca })];

    // Assert
    for (const outcome of outcomes) {
      expect(outcome.connected).toBe(false);
      expect(outcome.connected === false && outcome.error?.message).toMatch(/self[- ]signed certificate in certificate chain|unable to verify/i);
    }
  });
});

describe('mutual TLS', () => {
  it('accepts a device whose certificate the CA signed, with its name as client id', async () => {
    // Prepare
    const broker = await tlsBroker(true);
    const hub = await tlsClient(broker.tlsUrl!, 'hub/1', await pki.client('aggregator', 'hub'));
    await hub.subscribeAsync('fedmq/v1/default/update/+');
    const device = await tlsClient(broker.tlsUrl!, 'pi-01', await pki.client('device', 'pi-01'));
    const update = nextMessage(hub, 'fedmq/v1/default/update/pi-01');

    // Execute
    await device.publishAsync('fedmq/v1/default/update/pi-01', 'delta', { qos: 1 });

    // Assert
    expect((await update).payload.toString()).toBe('delta');
  });

  it.each([
    ['a certificate from another CA', async () => stranger.client('device', 'pi-01')],
    ['no certificate', async () => undefined],
  ])('refuses %s in the TLS handshake, on both TLS listeners', async (_case, certificate) => {
    // Prepare
    const broker = await tlsBroker(true);
    const clients: string[] = [];
    broker.aedes.on('client', (c) => clients.push(c.id));
    const cert = await certificate();

    // Execute
    const outcomes = [await connectOutcome(broker.tlsUrl!, { clientId: 'pi-01', ca: pki.ca, ...cert }), await connectOutcome(broker.wssUrl!, { clientId: 'pi-01', ca: pki.ca, ...cert })];

    // Assert
    expect(outcomes.map((o) => o.connected)).toEqual([false, false]);
    await vi.waitFor(() => expect(broker.stats().connectionsRefusedByReason['tls-handshake']).toBe(2));
    expect(clients).toEqual([]);
  });

  it('refuses a device certificate for pi-01 that connects as pi-02 (CONNACK 5)', async () => {
    // Prepare
    const broker = await tlsBroker(true);
    const pi01 = await pki.client('device', 'pi-01');

    // Execute
    const outcomes = [await connectOutcome(broker.tlsUrl!, { clientId: 'pi-02', ca: pki.ca, ...pi01 }), await connectOutcome(broker.wssUrl!, { clientId: 'pi-02', ca: pki.ca, ...pi01 })];

    // Assert
    for (const outcome of outcomes) expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
    expect(broker.stats().loginsRefusedByReason).toEqual({ 'client-id-not-permitted': 2 });
  });

  it.each(['update', 'status'])("never delivers pi-01's publish on pi-02's %s topic", async (kind) => {
    // Prepare
    const broker = await tlsBroker(true);
    const hub = await tlsClient(broker.tlsUrl!, 'hub/1', await pki.client('aggregator', 'hub'));
    await hub.subscribeAsync('fedmq/v1/default/#');
    const received = inbox(hub);
    const pi01 = await tlsClient(broker.tlsUrl!, 'pi-01', await pki.client('device', 'pi-01'));
    const pi02 = await tlsClient(broker.tlsUrl!, 'pi-02', await pki.client('device', 'pi-02'));

    // Execute
    await pi01.publishAsync(`fedmq/v1/default/${kind}/pi-02`, 'forged');
    await closedByBroker(pi01);
    await pi02.publishAsync(`fedmq/v1/default/${kind}/pi-02`, 'sentinel');
    await nextMessage(hub, `fedmq/v1/default/${kind}/pi-02`);

    // Assert
    expect(received.map((m) => m.payload.toString())).toEqual(['sentinel']);
    expect(broker.stats().publishesRejectedByReason).toEqual({ 'not-owner': 1 });
  });

  it('applies the role rules of --auth to certificate clients: a device reads no other updates, a monitor publishes nothing', async () => {
    // Prepare
    const broker = await tlsBroker(true);
    const device = await tlsClient(broker.tlsUrl!, 'pi-01', await pki.client('device', 'pi-01'));
    const monitor = await tlsClient(broker.wssUrl!, 'laptop/abc', await pki.client('monitor', 'laptop'));

    // Execute
    const refused = await device.subscribeAsync(['fedmq/v1/default/update/+', 'fedmq/v1/default/global']).then(() => null, (e: { packet?: { granted?: number[] } }) => e);
    await monitor.publishAsync('fedmq/v1/default/global', 'forged');
    await closedByBroker(monitor);

    // Assert
    expect(refused?.packet?.granted).toEqual([128, 0]);
    expect(broker.stats().publishesRejectedByReason).toEqual({ 'not-permitted': 1 });
  });

  it("keeps an aggregator's or monitor's certificate to client ids NAME or NAME/..., which no device id can be", async () => {
    // Prepare
    const broker = await tlsBroker(true);
    const hub = await pki.client('aggregator', 'hub');

    // Execute
    const asDevice = await connectOutcome(broker.tlsUrl!, { clientId: 'pi-01', ca: pki.ca, ...hub });
    const asItself = await connectOutcome(broker.tlsUrl!, { clientId: 'hub/default-1', ca: pki.ca, ...hub });

    // Assert
    expect(asDevice).toMatchObject({ connected: false, error: { code: 5 } });
    expect(asItself.connected).toBe(true);
    if (asItself.connected) await asItself.client.endAsync();
  });

  it('refuses a client without a certificate on the clear-text port, unless --auth lets it log in', async () => {
    // Prepare
    const certificatesOnly = await tlsBroker(true);
    const withPasswords = await tlsBroker(true, { hooks: credentialHooks(await testCredentials()) });

    // Execute
    const anonymous = await connectOutcome(certificatesOnly.url, { clientId: 'pi-01' });
    const password = await connectOutcome(withPasswords.url, { clientId: 'pi-01', username: 'pi-01', password: 'pi-01-pw' });

    // Assert
    expect(anonymous).toMatchObject({ connected: false, error: { code: 5 } });
    expect(certificatesOnly.stats().loginsRefusedByReason).toEqual({ 'no-certificate': 1 });
    expect(password.connected).toBe(true);
    if (password.connected) await password.client.endAsync();
  });

  it('with a CA but certificates optional, knows certificate clients and lets others in under the default policy', async () => {
    // Prepare
    const broker = await fixture.broker({ tls: { ...pki.broker, port: 0, ca: pki.ca } });
    const pi01 = await pki.client('device', 'pi-01');

    // Execute
    const impostor = await connectOutcome(broker.tlsUrl!, { clientId: 'pi-02', ca: pki.ca, ...pi01 });
    const unverified = await connectOutcome(broker.tlsUrl!, { clientId: 'pi-01', ca: pki.ca, ...(await stranger.client('device', 'pi-01')) });
    const anonymous = await connectOutcome(broker.tlsUrl!, { clientId: 'pi-03', ca: pki.ca });

    // Assert
    expect(impostor).toMatchObject({ connected: false, error: { code: 5 } });
    expect(unverified).toMatchObject({ connected: false, error: { code: 5 } });
    expect(broker.stats().loginsRefusedByReason).toEqual({ 'client-id-not-permitted': 1, 'bad-certificate': 1 });
    expect(anonymous.connected).toBe(true);
    if (anonymous.connected) await anonymous.client.endAsync();
  });
});

describe('TLS options', () => {
  it.each([
    ['requireClientCert without a CA', () => ({ ...pki.broker, requireClientCert: true }), 'requireClientCert'],
    ['a key that is not the certificate’s', async () => ({ cert: pki.broker.cert, key: (await pki.client('device', 'pi-09')).key }), 'tls'],
    ['a TLS port equal to the TCP port', () => ({ ...pki.broker, port: 18_830 }), 'tlsPort'],
  ])('refuses %s with an OptionsError naming the option', async (_case, tls, option) => {
    await expect(startBroker({ host: '127.0.0.1', port: 18_830, tls: await tls() })).rejects.toMatchObject({ name: OptionsError.name, option });
  });
});
