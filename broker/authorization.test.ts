import { afterEach, describe, expect, it } from 'vitest';
import { PacketTooLargeError, PublishRejectedError } from './errors.js';
import { closedByBroker, Fixture, inbox, nextMessage } from './testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

/** Errors Aedes reports for clients, whether or not they had completed CONNECT. */
function clientErrors(aedes: import('aedes').Aedes): Error[] {
  const errors: Error[] = [];
  aedes.on('clientError', (_client, error) => errors.push(error));
  aedes.on('connectionError', (_client, error) => errors.push(error));
  return errors;
}

describe('a device publishes only to its own topics', () => {
  it("lets a device publish to its own update and status topics", async () => {
    // Prepare
    const broker = await fixture.broker();
    const aggregator = await fixture.client(broker.url);
    await aggregator.subscribeAsync(['fedmq/v1/default/update/+', 'fedmq/v1/default/status/+']);
    const device = await fixture.client(broker.url, { clientId: 'dev-1' });
    const update = nextMessage(aggregator, 'fedmq/v1/default/update/dev-1');
    const status = nextMessage(aggregator, 'fedmq/v1/default/status/dev-1');

    // Execute
    await device.publishAsync('fedmq/v1/default/update/dev-1', 'delta', { qos: 1 });
    await device.publishAsync('fedmq/v1/default/status/dev-1', 'online', { qos: 1, retain: true });

    // Assert
    expect((await update).payload.toString()).toBe('delta');
    expect((await status).payload.toString()).toBe('online');
  });

  it.each(['update', 'status'])("never delivers a device's publish to another device's %s topic", async (kind) => {
    // Prepare
    const broker = await fixture.broker();
    const errors = clientErrors(broker.aedes);
    const aggregator = await fixture.client(broker.url);
    await aggregator.subscribeAsync('fedmq/v1/default/#');
    const received = inbox(aggregator);
    const forger = await fixture.client(broker.url, { clientId: 'dev-2' });
    const honest = await fixture.client(broker.url, { clientId: 'dev-1' });

    // Execute
    await forger.publishAsync(`fedmq/v1/default/${kind}/dev-1`, 'forged');
    await closedByBroker(forger);
    await honest.publishAsync('fedmq/v1/default/update/dev-1', 'sentinel');
    await nextMessage(aggregator, 'fedmq/v1/default/update/dev-1');

    // Assert
    expect(received.map((m) => m.payload.toString())).toEqual(['sentinel']);
    expect(errors).toEqual([expect.objectContaining({ name: 'PublishRejectedError', reason: 'not-owner', clientId: 'dev-2' })]);
    expect(broker.stats().publishesRejected).toBe(1);
  });

  it("does not publish a last will aimed at another device's status topic", async () => {
    // Prepare
    const broker = await fixture.broker();
    const monitor = await fixture.client(broker.url);
    await monitor.subscribeAsync('fedmq/v1/default/status/+');
    const received = inbox(monitor);
    const forger = await fixture.client(broker.url, {
      clientId: 'dev-2',
      will: { topic: 'fedmq/v1/default/status/dev-1', payload: Buffer.from('offline'), qos: 0, retain: true },
    });
    const honest = await fixture.client(broker.url, { clientId: 'dev-3' });

    // Execute
    forger.stream.destroy();
    await closedByBroker(forger);
    await new Promise((resolve) => broker.aedes.once('clientDisconnect', resolve));
    await honest.publishAsync('fedmq/v1/default/status/dev-3', 'sentinel');
    await nextMessage(monitor, 'fedmq/v1/default/status/dev-3');

    // Assert
    expect(received.map((m) => m.topic)).toEqual(['fedmq/v1/default/status/dev-3']);
  });

  it('refuses client publishes to topics starting with $', async () => {
    // Prepare
    const broker = await fixture.broker();
    const errors = clientErrors(broker.aedes);
    const client = await fixture.client(broker.url);

    // Execute
    await client.publishAsync('$fedmq/announce', 'spoofed');
    await closedByBroker(client);

    // Assert
    expect(errors).toEqual([expect.objectContaining({ name: 'PublishRejectedError', reason: 'reserved-topic' })]);
  });
});

describe('the broker limits payload size', () => {
  it('accepts a payload at the limit and drops the connection of one over it', async () => {
    // Prepare
    const broker = await fixture.broker({ maxPayloadBytes: 1024 });
    const errors = clientErrors(broker.aedes);
    const subscriber = await fixture.client(broker.url);
    await subscriber.subscribeAsync('big');
    const received = inbox(subscriber);
    const publisher = await fixture.client(broker.url);

    // Execute
    await publisher.publishAsync('big', Buffer.alloc(1024));
    await nextMessage(subscriber, 'big');
    await publisher.publishAsync('big', Buffer.alloc(1025));
    await closedByBroker(publisher);

    // Assert
    expect(received.map((m) => m.payload.length)).toEqual([1024]);
    expect(errors).toEqual([expect.any(PublishRejectedError)]);
    expect(errors[0]).toMatchObject({ reason: 'too-large' });
  });

  it('cuts a connection as soon as it announces a packet far over the limit', async () => {
    // Prepare
    const broker = await fixture.broker({ maxPayloadBytes: 1024 });
    const errors = clientErrors(broker.aedes);
    const publisher = await fixture.client(broker.url);

    // Execute
    publisher.publish('big', Buffer.alloc(1024 * 1024));
    await closedByBroker(publisher);

    // Assert
    expect(errors).toEqual([expect.any(PacketTooLargeError)]);
    expect(broker.stats().messagesIn).toBe(0);
  });
});
