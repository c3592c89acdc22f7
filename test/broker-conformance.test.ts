import { afterEach, describe, expect, it } from 'vitest';
import { Fixture, inbox, nextMessage, raw } from '../broker/testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

async function closesWithin(closed: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
}

describe('MQTT 3.1.1 conformance of the broker', () => {
  it.each([
    ['invalid UTF-8', Buffer.from([0x61, 0xc3, 0x28])],
    ['an overlong encoding of /', Buffer.from([0x61, 0xc0, 0xaf])],
    ['U+0000', Buffer.from('a\u0000b', 'utf8')],
    ['a UTF-16 surrogate (U+D800 encoded)', Buffer.from([0x61, 0xed, 0xa0, 0x80])],
    ['a UTF-16 surrogate (U+DFFF encoded)', Buffer.from([0xed, 0xbf, 0xbf])],
  ])('closes the connection of a PUBLISH whose topic holds %s, and delivers nothing [MQTT-1.5.3-1, MQTT-1.5.3-2]', async (_what, topic) => {
    // Prepare
    const broker = await fixture.broker();
    const watcher = await fixture.client(broker.url);
    await watcher.subscribeAsync('#');
    const seen = inbox(watcher);
    const sender = await fixture.raw(broker.port);
    sender.send(raw.connect({ clientId: 'sender' }));
    await sender.until((r) => r.connack.length === 1);

    // Execute
    sender.send(raw.publish(topic, 'bad'));

    // Assert
    expect(await closesWithin(sender.closed, 2_000)).toBe(true);
    const honest = await fixture.client(broker.url);
    const sentinel = nextMessage(watcher, 'sentinel');
    await honest.publishAsync('sentinel', 'ok');
    await sentinel;
    expect(seen.map((m) => m.topic)).toEqual(['sentinel']);
    expect(broker.stats().connectionsRefusedByReason).toEqual({ 'malformed-packet': 1 });
  });

  it('delivers a topic of well-formed non-ASCII UTF-8, U+FFFD included', async () => {
    const broker = await fixture.broker();
    const watcher = await fixture.client(broker.url);
    await watcher.subscribeAsync('#');
    const topic = 'capteur/température/\uFFFD/😀';
    const received = nextMessage(watcher, topic);
    const sender = await fixture.raw(broker.port);
    sender.send(raw.connect({ clientId: 'sender' }));
    await sender.until((r) => r.connack.length === 1);
    sender.send(raw.publish(topic, 'ok'));
    expect((await received).payload.toString()).toBe('ok');
  });

  it.each(['a+/b', 'a/+b', 'a/b+', '+a', 'a#', 'a/#b', 'a/#/b'])(
    'closes the connection of a SUBSCRIBE to %s, a wildcard not filling its level [MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.8.0-1]',
    async (filter) => {
      // Prepare
      const broker = await fixture.broker();
      const client = await fixture.raw(broker.port);
      client.send(raw.connect({ clientId: 'sub' }));
      await client.until((r) => r.connack.length === 1);

      // Execute
      client.send(raw.subscribe([filter]));

      // Assert
      expect(await closesWithin(client.closed, 2_000)).toBe(true);
      expect(client.replies.suback).toEqual([]);
      expect(broker.stats().connectionsRefusedByReason).toEqual({ 'malformed-packet': 1 });
    },
  );

  it('grants filters whose wildcards fill their levels', async () => {
    const broker = await fixture.broker();
    const client = await fixture.raw(broker.port);
    client.send(raw.connect({ clientId: 'sub' }));
    await client.until((r) => r.connack.length === 1);
    client.send(raw.subscribe(['+', '#', 'a/+/b', '+/+', 'a/#', '/+/', 'a//b']));
    const replies = await client.until((r) => r.suback.length === 1);
    expect(replies.suback).toEqual([[0, 0, 0, 0, 0, 0, 0]]);
  });

  it('answers an empty client id with CleanSession 0 with CONNACK 2 and closes [MQTT-3.1.3-8]', async () => {
    // Prepare
    const broker = await fixture.broker();
    const client = await fixture.raw(broker.port);

    // Execute
    client.send(raw.connect({ clientId: '', clean: false }));

    // Assert
    const replies = await client.until((r) => r.connack.length === 1);
    expect(replies.connack).toEqual([2]);
    expect(await closesWithin(client.closed, 2_000)).toBe(true);
    expect(broker.stats().loginsRefusedByReason).toEqual({ 'empty-client-id': 1 });
  });

  it('accepts an empty client id with CleanSession 1, as MQTT allows [MQTT-3.1.3-6]', async () => {
    const broker = await fixture.broker();
    const client = await fixture.raw(broker.port);
    client.send(raw.connect({ clientId: '', clean: true }));
    expect((await client.until((r) => r.connack.length === 1)).connack).toEqual([0]);
  });
});
