import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MalformedPacketError } from './errors.js';
import { Fixture, nextMessage } from './testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

/** Sends raw bytes to the TCP listener and resolves when the broker hangs up. */
function sendRaw(port: number, bytes: number[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(bytes)));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

describe('a misbehaving client does not hurt the broker', () => {
  it('drops a TCP client that sends a malformed Remaining Length and keeps serving others', async () => {
    // Prepare
    const broker = await fixture.broker();
    const errors: Error[] = [];
    broker.aedes.on('connectionError', (_client, error) => errors.push(error));

    // Execute: five continuation bytes, one more than MQTT allows [MQTT-2.2.3].
    await sendRaw(broker.port, [0x10, 0xff, 0xff, 0xff, 0xff, 0x01]);

    // Assert
    expect(errors).toEqual([expect.any(MalformedPacketError)]);
    const client = await fixture.client(broker.url);
    await client.subscribeAsync('still/alive');
    const received = nextMessage(client, 'still/alive');
    await client.publishAsync('still/alive', 'yes');
    expect((await received).payload.toString()).toBe('yes');
  });

  it('drops a WebSocket client that sends garbage and keeps serving others', async () => {
    // Prepare
    const broker = await fixture.broker({ wsPort: 0 });
    const ws = new WebSocket(broker.wsUrl ?? '', 'mqtt');
    await new Promise((resolve) => ws.once('open', resolve));

    // Execute
    ws.send('this is not MQTT');
    const code = await new Promise((resolve) => ws.once('close', resolve));

    // Assert
    expect(code).toBeTypeOf('number');
    const client = await fixture.client(broker.wsUrl ?? '');
    expect(client.connected).toBe(true);
  });

  it('answers plain HTTP on the WebSocket port with 426 Upgrade Required', async () => {
    // Prepare
    const broker = await fixture.broker({ wsPort: 0 });

    // Execute
    const response = await fetch(`http://127.0.0.1:${broker.wsPort}/`);

    // Assert
    expect(response.status).toBe(426);
  });
});
