import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../protocol/index.js';
import { MAX_CONNECT_REMAINING_LENGTH } from '../broker/packetGuard.js';
import { Fixture, nextMessage, raw } from '../broker/testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

const MiB = 1024 * 1024;

/** Resolves true once `closed` settles, false if it has not after `ms`. */
async function closesWithin(closed: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
}

/** The broker still routes a message between two fresh clients. */
async function stillServes(url: string): Promise<void> {
  const client = await fixture.client(url);
  await client.subscribeAsync('still/alive');
  const received = nextMessage(client, 'still/alive');
  await client.publishAsync('still/alive', 'yes');
  expect((await received).payload.toString()).toBe('yes');
}

describe('the broker bounds what stalled and idle connections hold', () => {
  it('closes a connection whose PUBLISH does not complete within packetTimeoutMs, keepalive 0 or not', async () => {
    // Prepare: the broker's time is a clock the test moves.
    const clock = new ManualClock(0);
    const broker = await fixture.broker({ packetTimeoutMs: 400, clock });
    const staller = await fixture.raw(broker.port);
    staller.send(raw.connect({ clientId: 'staller', keepalive: 0 }));
    await staller.until((r) => r.connack.length === 1);

    // Execute: 1 MiB announced, 64 KiB sent, then nothing while the broker's clock passes
    // 399 ms, then 800 (past the timeout even if the bytes reached the broker only at 399).
    staller.send(raw.partialPublish(MiB, 64 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 100));
    clock.advanceTo(399);
    const early = await closesWithin(staller.closed, 300);
    clock.advanceTo(800);

    // Assert
    expect(early).toBe(false);
    expect(await closesWithin(staller.closed, 3_000)).toBe(true);
    expect(broker.stats().connectionsRefusedByReason).toEqual({ 'packet-timeout': 1 });
    await stillServes(broker.url);
  });

  it('keeps a slow but steady packet that completes within the timeout', async () => {
    const clock = new ManualClock(0);
    const broker = await fixture.broker({ packetTimeoutMs: 1_500, clock });
    const receiver = await fixture.client(broker.url);
    await receiver.subscribeAsync('big');
    const received = nextMessage(receiver, 'big');
    const sender = await fixture.raw(broker.port);
    sender.send(raw.connect({ clientId: 'slow' }));
    await sender.until((r) => r.connack.length === 1);
    const whole = raw.publish('big', Buffer.alloc(100_000, 7));
    for (let at = 0; at < whole.length; at += 25_000) {
      sender.send(whole.subarray(at, at + 25_000));
      // 200 ms between chunks on the broker's clock: 600 ms in all, within the 1,500 ms allowed.
      await new Promise((resolve) => setTimeout(resolve, 50));
      clock.advance(200);
    }
    expect((await received).payload.length).toBe(100_000);
    expect(sender.isClosed).toBe(false);
  });

  it('caps the bytes incomplete packets of all clients hold together, cutting the client that would cross it', async () => {
    // Prepare: room for two 400 KiB partial packets, not three.
    const broker = await fixture.broker({ maxIncompleteBytesTotal: MiB });
    const stallers = [];
    for (const id of ['s1', 's2', 's3']) {
      const staller = await fixture.raw(broker.port);
      staller.send(raw.connect({ clientId: id }));
      await staller.until((r) => r.connack.length === 1);
      stallers.push(staller);
    }

    // Execute
    for (const staller of stallers) {
      staller.send(raw.partialPublish(4 * MiB, 400 * 1024));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }

    // Assert
    expect(await closesWithin(stallers[2]!.closed, 2_000)).toBe(true);
    expect(stallers[0]!.isClosed || stallers[1]!.isClosed).toBe(false);
    expect(broker.stats().connectionsRefusedByReason).toEqual({ 'incomplete-bytes': 1 });
    // Bytes of a closed connection are given back: a new partial packet fits again.
    stallers[0]!.destroy();
    await stallers[0]!.closed;
    const next = await fixture.raw(broker.port);
    next.send(raw.connect({ clientId: 's4' }));
    await next.until((r) => r.connack.length === 1);
    next.send(raw.partialPublish(4 * MiB, 400 * 1024));
    expect(await closesWithin(next.closed, 500)).toBe(false);
  });

  it('refuses a client that has not logged in more than a CONNECT can hold, or a first packet other than CONNECT', async () => {
    const broker = await fixture.broker();
    const bigConnect = await fixture.raw(broker.port);
    bigConnect.send(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x08])); // CONNECT announcing 16 MiB
    const publishFirst = await fixture.raw(broker.port);
    publishFirst.send(raw.partialPublish(MiB, 1_000));
    expect(await closesWithin(bigConnect.closed, 2_000)).toBe(true);
    expect(await closesWithin(publishFirst.closed, 2_000)).toBe(true);
    expect(MAX_CONNECT_REMAINING_LENGTH).toBeLessThan(MiB);
    expect(broker.stats().connectionsRefusedByReason).toEqual({ 'packet-too-large': 1, 'malformed-packet': 1 });
  });

  it('caps concurrent connections at maxConnections and accepts again once one closes', async () => {
    // Prepare
    const broker = await fixture.broker({ maxConnections: 3 });
    const open = [await fixture.raw(broker.port), await fixture.raw(broker.port), await fixture.raw(broker.port)];

    // Execute
    const fourth = await fixture.raw(broker.port);

    // Assert
    expect(await closesWithin(fourth.closed, 2_000)).toBe(true);
    expect(broker.stats().connectionsRefusedByReason).toEqual({ 'too-many-connections': 1 });
    expect(open.some((c) => c.isClosed)).toBe(false);
    open[0]!.destroy();
    await open[0]!.closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const client = await fixture.client(broker.url);
    expect(client.connected).toBe(true);
  });

  it('takes the defaults: 10,000 connections, 30 s per packet, 256 MiB of incomplete packets', async () => {
    const { parseBrokerOptions } = await import('../broker/options.js');
    const parsed = parseBrokerOptions();
    expect([parsed.maxConnections, parsed.packetTimeoutMs, parsed.maxIncompleteBytesTotal, parsed.maxRetainedBytesPerClient]).toEqual([10_000, 30_000, 256 * MiB, 64 * MiB]);
    expect(() => parseBrokerOptions({ maxConnections: 0 })).toThrow(/maxConnections/);
    expect(() => parseBrokerOptions({ packetTimeoutMs: 1.5 })).toThrow(/packetTimeoutMs/);
  });
});
