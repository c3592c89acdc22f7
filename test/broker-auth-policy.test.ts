import mqtt from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Credentials } from '../broker/credentials.js';
import { credentialHooks } from '../broker/hooks/index.js';
import type { BrokerOptions } from '../broker/options.js';
import { closedByBroker, Fixture, inbox, nextMessage, testCredentials } from '../broker/testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

let credentials: Credentials;
beforeAll(async () => {
  credentials = await testCredentials();
});

const start = (options: BrokerOptions = {}) => fixture.broker({ ...options, hooks: credentialHooks(credentials) });
const pi01 = { clientId: 'pi-01', username: 'pi-01', password: 'pi-01-pw' };
const hub = { clientId: 'hub-1', username: 'hub', password: 'hub-pw' };
const grafana = { clientId: 'mon', username: 'grafana', password: 'mon-pw' };

async function connectError(url: string, options: mqtt.IClientOptions): Promise<number | undefined> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    await client.endAsync();
    return undefined;
  } catch (error) {
    return (error as { code?: number }).code;
  }
}

/** SUBACK codes for `filters` (mqtt.js rejects a SUBACK holding a failure, with the packet). */
async function granted(client: mqtt.MqttClient, filters: string[]): Promise<number[]> {
  return client.subscribeAsync(filters).then(
    (grants) => grants.map((g) => g.qos),
    (error: { packet?: { granted?: number[] } }) => error.packet?.granted ?? [],
  );
}

describe('with --auth, a client id that is a device’s belongs to that device', () => {
  it('refuses a monitor or aggregator login under a device’s client id, connected or not, and never evicts the device', async () => {
    // Prepare
    const broker = await start();
    const device = await fixture.client(broker.url, pi01);
    let evictions = 0;
    device.on('close', () => (evictions += 1));

    // Execute
    const monitorAsDevice = await connectError(broker.url, { ...grafana, clientId: 'pi-01' });
    const aggregatorAsDevice = await connectError(broker.url, { ...hub, clientId: 'pi-01' });
    const aggregatorAsOtherDevice = await connectError(broker.url, { ...hub, clientId: 'pi-02' });
    const otherDeviceAsDevice = await connectError(broker.url, { clientId: 'pi-01', username: 'pi-02', password: 'pi-02-pw' });

    // Assert
    expect([monitorAsDevice, aggregatorAsDevice, aggregatorAsOtherDevice, otherDeviceAsDevice]).toEqual([5, 5, 5, 5]);
    await device.publishAsync('fedmq/v1/lab/status/pi-01', 'still here', { qos: 1 });
    expect(device.connected).toBe(true);
    expect(evictions).toBe(0);
    expect(broker.stats().loginsRefusedByReason).toEqual({ 'client-id-not-permitted': 4 });
  });

  it('refuses a login under the client id of a client connected with another username; the same username may take it over', async () => {
    const broker = await start();
    const aggregator = await fixture.client(broker.url, hub);
    expect(await connectError(broker.url, { ...grafana, clientId: 'hub-1' })).toBe(5);
    expect(aggregator.connected).toBe(true);
    const closed = closedByBroker(aggregator);
    expect(await connectError(broker.url, hub)).toBeUndefined();
    await closed; // [MQTT-3.1.4-2]: its own reconnect takes the session over
    const device = await fixture.client(broker.url, pi01);
    expect(await connectError(broker.url, pi01)).toBeUndefined();
    expect(device.connected).toBe(false);
  });
});

describe('with --auth, a device reads and writes only what a device needs', () => {
  it('refuses $SYS subscriptions to a device (SUBACK 0x80), still grants them to a monitor', async () => {
    const broker = await start();
    const device = await fixture.client(broker.url, pi01);
    const monitor = await fixture.client(broker.url, grafana);
    expect(await granted(device, ['$SYS/#', '$SYS/+/new/clients', 'fedmq/v1/lab/global'])).toEqual([128, 128, 0]);
    expect(device.connected).toBe(true);
    expect(await granted(monitor, ['$SYS/#'])).toEqual([0]);
    expect(broker.stats().subscriptionsRefusedByReason).toEqual({ 'reserved-topic': 2 });
  });

  it.each([
    ['beneath its status', 'fedmq/v1/lab/status/pi-01/x', false],
    ['beneath its update', 'fedmq/v1/lab/update/pi-01/deep/er', false],
    ['its update, retained', 'fedmq/v1/lab/update/pi-01', true],
  ])('closes a device publishing %s', async (_what, topic, retain) => {
    // Prepare
    const broker = await start();
    const monitor = await fixture.client(broker.url, grafana);
    await monitor.subscribeAsync('fedmq/v1/lab/#');
    const seen = inbox(monitor);
    const device = await fixture.client(broker.url, pi01);

    // Execute
    device.publish(topic, Buffer.alloc(1024), { retain });
    await closedByBroker(device);

    // Assert: nothing delivered, nothing kept for later subscribers.
    const late = await fixture.client(broker.url, { ...grafana, clientId: 'late' });
    const keptForLate = inbox(late);
    await late.subscribeAsync('fedmq/v1/lab/#');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...seen, ...keptForLate]).toEqual([]);
  });

  it('lets a device retain its own status and publish its update, not retained', async () => {
    const broker = await start();
    const device = await fixture.client(broker.url, pi01);
    await device.publishAsync('fedmq/v1/lab/status/pi-01', 'online', { qos: 1, retain: true });
    await device.publishAsync('fedmq/v1/lab/update/pi-01', 'delta', { qos: 1 });
    const monitor = await fixture.client(broker.url, grafana);
    const status = nextMessage(monitor, 'fedmq/v1/lab/status/pi-01');
    await monitor.subscribeAsync('fedmq/v1/lab/#');
    expect(await status).toMatchObject({ retain: true });
    expect(device.connected).toBe(true);
  });
});

describe('retained messages', () => {
  it('refuses a retained update from anyone, the aggregator and clients of a broker without --auth included', async () => {
    const authBroker = await start();
    const aggregator = await fixture.client(authBroker.url, hub);
    aggregator.publish('fedmq/v1/lab/update/pi-01', 'forged', { retain: true });
    await closedByBroker(aggregator);
    const openBroker = await fixture.broker();
    const device = await fixture.client(openBroker.url, { clientId: 'pi-01' });
    device.publish('fedmq/v1/lab/update/pi-01', 'delta', { retain: true });
    await closedByBroker(device);
    expect(authBroker.stats().publishesRejectedByReason).toEqual({ 'retain-not-permitted': 1 });
    expect(openBroker.stats().publishesRejectedByReason).toEqual({ 'retain-not-permitted': 1 });
  });

  it('caps the retained bytes one client keeps, counting what it replaced or cleared no more', async () => {
    // Prepare
    const broker = await fixture.broker({ maxRetainedBytesPerClient: 1_000 });
    const client = await fixture.client(broker.url, { clientId: 'hoarder' });

    // Execute: 600 + 300 fit; replacing the 600 by 650 fits; clearing the 300 frees it for 340.
    await client.publishAsync('fedmq/v1/lab/task', Buffer.alloc(600), { qos: 1, retain: true });
    await client.publishAsync('fedmq/v1/lab/global', Buffer.alloc(300), { qos: 1, retain: true });
    await client.publishAsync('fedmq/v1/lab/task', Buffer.alloc(650), { qos: 1, retain: true });
    await client.publishAsync('fedmq/v1/lab/global', Buffer.alloc(0), { qos: 1, retain: true });
    await client.publishAsync('fedmq/v1/lab/round', Buffer.alloc(340), { qos: 1, retain: true });
    expect(client.connected).toBe(true);
    client.publish('fedmq/v1/lab/metrics', Buffer.alloc(100), { qos: 1, retain: true });
    await closedByBroker(client);

    // Assert
    expect(broker.stats().publishesRejectedByReason).toEqual({ 'retained-quota': 1 });
  });
});
