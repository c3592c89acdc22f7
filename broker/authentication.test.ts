import mqtt from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, hashPassword, parseCredentials, verifyPassword, type Credentials } from './credentials.js';
import { credentialHooks, reachesOthersUpdates } from './hooks/index.js';
import { closedByBroker, Fixture, inbox, nextMessage, testCredentials } from './testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

describe('credentials', () => {
  it('hashes with a fresh salt and verifies only the right password', async () => {
    const [a, b] = [await hashPassword('s3cret'), await hashPassword('s3cret')];
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('s3cret', a)).toBe(true);
    expect(await verifyPassword('s3cret!', a)).toBe(false);
    expect(await verifyPassword('s3cret', 'scrypt$1$1$1$AA==$AA==')).toBe(false);
  });

  it('reads ROLE NAME HASH lines and names the line of each mistake', async () => {
    const hash = await hashPassword('x');
    const creds = parseCredentials(`# fleet lab\n\ndevice pi-01 ${hash}\naggregator hub ${hash}\n`);
    expect([...creds.values()].map((c) => [c.role, c.name])).toEqual([['device', 'pi-01'], ['aggregator', 'hub']]);
    expect(() => parseCredentials(`admin root ${hash}`, 'auth.txt')).toThrow(/auth.txt:1: unknown role "admin"/);
    expect(() => parseCredentials(`device pi/01 ${hash}`)).toThrow(/:1: bad name "pi\/01"/);
    expect(() => parseCredentials('device pi-01 plaintext')).toThrow(/not a fedmq scrypt hash/);
    expect(() => parseCredentials(`device pi-01 ${hash}\n\ndevice pi-01 ${hash}`)).toThrow(/:3: pi-01 appears twice/);
    expect(() => parseCredentials('device pi-01')).toThrow(/expected ROLE NAME HASH/);
  });

  it('remembers a password that passed, so a reconnect costs no second scrypt, and still refuses a wrong one', async () => {
    const auth = new Authenticator(parseCredentials(`device pi-01 ${await hashPassword('right')}`));
    expect(await auth.check('pi-01', Buffer.from('right'))).toMatchObject({ role: 'device' });
    const started = performance.now();
    for (let i = 0; i < 50; i++) await auth.check('pi-01', Buffer.from('right'));
    expect(performance.now() - started).toBeLessThan(500);
    await expect(auth.check('pi-01', Buffer.from('wrong'))).rejects.toMatchObject({ reason: 'bad-credentials', returnCode: 4 });
    await expect(auth.check('pi-02', Buffer.from('right'))).rejects.toMatchObject({ reason: 'bad-credentials', returnCode: 4 });
    await expect(auth.check('pi-01', undefined)).rejects.toMatchObject({ reason: 'no-credentials', returnCode: 4 });
  });
});

describe('which subscriptions reach another device’s updates', () => {
  it.each([
    ['fedmq/v1/lab/update/pi-02', true],
    ['fedmq/v1/lab/update/+', true],
    ['fedmq/v1/+/update/pi-02/x', true],
    ['fedmq/v1/lab/#', true],
    ['#', true],
    ['+/+/+/+/+', true],
    ['fedmq/v1/lab/update/pi-01', false],
    ['fedmq/v1/lab/update/pi-01/#', false],
    ['fedmq/v1/lab/global', false],
    ['fedmq/v1/lab/+', false],
    ['fedmq/v1/lab/status/+', false],
    ['$SYS/#', false],
  ])('%s: %s (for pi-01)', (filter, reaches) => {
    expect(reachesOthersUpdates(filter, 'pi-01')).toBe(reaches);
  });
});

describe('a broker with --auth', () => {
  let credentials: Credentials;
  beforeAll(async () => {
    credentials = await testCredentials();
  });
  const start = () => fixture.broker({ hooks: credentialHooks(credentials) });
  const connectError = async (url: string, options: mqtt.IClientOptions): Promise<number | undefined> => {
    try {
      const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
      await client.endAsync();
      return undefined;
    } catch (error) {
      return (error as { code?: number }).code;
    }
  };

  it('refuses a login without credentials, with a wrong password, or a device under another client id', async () => {
    const broker = await start();
    expect(await connectError(broker.url, { clientId: 'pi-01' })).toBe(4);
    expect(await connectError(broker.url, { clientId: 'pi-01', username: 'pi-01', password: 'pi-02-pw' })).toBe(4);
    expect(await connectError(broker.url, { clientId: 'x', username: 'nobody', password: 'pi-01-pw' })).toBe(4);
    expect(await connectError(broker.url, { clientId: 'pi-02', username: 'pi-01', password: 'pi-01-pw' })).toBe(5);
    expect(await connectError(broker.url, { clientId: 'pi-01', username: 'pi-01', password: 'pi-01-pw' })).toBeUndefined();
  });

  it('keeps a device connected when an impostor tries its client id with a wrong password', async () => {
    const broker = await start();
    const device = await fixture.client(broker.url, { clientId: 'pi-01', username: 'pi-01', password: 'pi-01-pw' });
    expect(await connectError(broker.url, { clientId: 'pi-01', username: 'pi-01', password: 'guess' })).toBe(4);
    await device.publishAsync('fedmq/v1/lab/status/pi-01', 'still here', { qos: 1 });
    expect(device.connected).toBe(true);
  });

  it('lets only the aggregator publish fleet topics; a device only its own; a monitor nothing', async () => {
    // Prepare: a monitor reading the whole fleet, the aggregator, a device.
    const broker = await start();
    const monitor = await fixture.client(broker.url, { clientId: 'mon', username: 'grafana', password: 'mon-pw' });
    await monitor.subscribeAsync('fedmq/v1/lab/#');
    const seen = inbox(monitor);
    const hub = await fixture.client(broker.url, { clientId: 'hub-1', username: 'hub', password: 'hub-pw' });
    const device = await fixture.client(broker.url, { clientId: 'pi-01', username: 'pi-01', password: 'pi-01-pw' });
    // Execute: legitimate traffic, then a device forging a global and the monitor publishing.
    await hub.publishAsync('fedmq/v1/lab/global', 'real global', { qos: 1 });
    await device.publishAsync('fedmq/v1/lab/update/pi-01', 'my update', { qos: 1 });
    await nextMessage(monitor, 'fedmq/v1/lab/update/pi-01');
    await device.publishAsync('fedmq/v1/lab/global', 'poisoned global');
    await closedByBroker(device);
    const rogue = await fixture.client(broker.url, { clientId: 'mon-2', username: 'grafana', password: 'mon-pw' });
    await rogue.publishAsync('fedmq/v1/lab/round', 'fake round');
    await closedByBroker(rogue);
    await hub.publishAsync('fedmq/v1/lab/metrics', 'sentinel', { qos: 1 });
    await nextMessage(monitor, 'fedmq/v1/lab/metrics');
    // Assert
    expect(seen.map((m) => m.payload.toString())).toEqual(['real global', 'my update', 'sentinel']);
  });

  it("refuses a device's subscription to other devices' updates, and keeps it connected", async () => {
    const broker = await start();
    const device = await fixture.client(broker.url, { clientId: 'pi-02', username: 'pi-02', password: 'pi-02-pw' });
    // mqtt.js rejects a SUBACK holding a failure code, and hands over the packet.
    const error = await device.subscribeAsync(['fedmq/v1/lab/update/+', 'fedmq/v1/lab/global']).then(() => null, (e: { packet?: { granted?: number[] } }) => e);
    expect(error?.packet?.granted).toEqual([128, 0]);
    expect(device.connected).toBe(true);
  });
});
