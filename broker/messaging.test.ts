import { afterEach, describe, expect, it } from 'vitest';
import { Fixture, nextMessage } from './testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

describe('the broker carries messages', () => {
  it('delivers a TCP client publish to a TCP subscriber', async () => {
    // Prepare
    const broker = await fixture.broker();
    const subscriber = await fixture.client(broker.url);
    const publisher = await fixture.client(broker.url);
    await subscriber.subscribeAsync('fedmq/v1/default/round', { qos: 1 });
    const received = nextMessage(subscriber, 'fedmq/v1/default/round');

    // Execute
    await publisher.publishAsync('fedmq/v1/default/round', Buffer.from([1, 2, 3]), { qos: 1 });

    // Assert
    expect([...(await received).payload]).toEqual([1, 2, 3]);
    expect(broker.stats()).toMatchObject({ clients: 2, messagesIn: 1, bytesIn: 3, messagesOut: 1, bytesOut: 3 });
  });

  it('lets a WebSocket client and a TCP client talk to each other', async () => {
    // Prepare
    const broker = await fixture.broker({ wsPort: 0 });
    const wsClient = await fixture.client(broker.wsUrl ?? '');
    const tcpClient = await fixture.client(broker.url);
    await wsClient.subscribeAsync('to-ws');
    await tcpClient.subscribeAsync('to-tcp');
    const atWs = nextMessage(wsClient, 'to-ws');
    const atTcp = nextMessage(tcpClient, 'to-tcp');

    // Execute
    await tcpClient.publishAsync('to-ws', 'hello ws');
    await wsClient.publishAsync('to-tcp', 'hello tcp');

    // Assert
    expect(broker.wsUrl).toBe(`ws://127.0.0.1:${broker.wsPort}`);
    expect((await atWs).payload.toString()).toBe('hello ws');
    expect((await atTcp).payload.toString()).toBe('hello tcp');
  });

  it('delivers a retained message to a client that subscribes later', async () => {
    // Prepare
    const broker = await fixture.broker();
    const publisher = await fixture.client(broker.url);
    await publisher.publishAsync('fedmq/v1/default/global', 'weights v7', { qos: 1, retain: true });
    const lateSubscriber = await fixture.client(broker.url);
    const received = nextMessage(lateSubscriber, 'fedmq/v1/default/global');

    // Execute
    await lateSubscriber.subscribeAsync('fedmq/v1/default/global');

    // Assert
    const message = await received;
    expect(message.payload.toString()).toBe('weights v7');
    expect(message.retain).toBe(true);
  });

  it("publishes a device's last will to its own status topic when its socket dies", async () => {
    // Prepare
    const broker = await fixture.broker();
    const monitor = await fixture.client(broker.url);
    await monitor.subscribeAsync('fedmq/v1/default/status/+');
    const device = await fixture.client(broker.url, {
      clientId: 'dev-1',
      will: { topic: 'fedmq/v1/default/status/dev-1', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    const will = nextMessage(monitor, 'fedmq/v1/default/status/dev-1');

    // Execute: a crash or lost link, not a clean DISCONNECT [MQTT-3.1.2-8].
    device.stream.destroy();

    // Assert
    const message = await will;
    expect(message.payload.toString()).toBe('offline');
    const lateMonitor = await fixture.client(broker.url);
    const retained = nextMessage(lateMonitor, 'fedmq/v1/default/status/dev-1');
    await lateMonitor.subscribeAsync('fedmq/v1/default/status/dev-1');
    expect((await retained).payload.toString()).toBe('offline');
  });
});
