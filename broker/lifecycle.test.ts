import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from './broker.js';
import { BrokerListenError } from './errors.js';
import { closedByBroker, Fixture } from './testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

describe('closing the broker', () => {
  it('disconnects every client quickly and frees both ports', async () => {
    // Prepare
    const broker = await fixture.broker({ wsPort: 0 });
    const clients = await Promise.all([
      fixture.client(broker.url, { clientId: 'dev-1' }),
      fixture.client(broker.url, { clientId: 'dev-2' }),
      fixture.client(broker.wsUrl ?? '', { clientId: 'dev-3' }),
    ]);
    const started = performance.now();

    // Execute
    await broker.close();

    // Assert
    expect(performance.now() - started).toBeLessThan(1_000);
    await Promise.all(clients.map((client) => closedByBroker(client)));
    const again = await fixture.broker({ port: broker.port, wsPort: broker.wsPort });
    expect([again.port, again.wsPort]).toEqual([broker.port, broker.wsPort]);
  });

  it('can be called twice, resolving both times', async () => {
    // Prepare
    const broker = await fixture.broker();
    await fixture.client(broker.url);

    // Execute
    const first = broker.close();
    const second = broker.close();

    // Assert
    await expect(Promise.all([first, second, broker.close()])).resolves.toBeDefined();
    expect(broker.aedes.closed).toBe(true);
  });
});

describe('starting the broker', () => {
  it('reports the bound ports and URLs when port 0 was asked for', async () => {
    // Prepare / Execute
    const broker = await fixture.broker({ host: '0.0.0.0', wsPort: 0 });

    // Assert
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(broker.wsUrl).toBe(`ws://127.0.0.1:${broker.wsPort}`);
    expect(broker.stats()).toMatchObject({ clients: 0, messagesIn: 0, messagesOut: 0 });
  });

  it('rejects with a BrokerListenError when the port is taken', async () => {
    // Prepare
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;

    // Execute
    const starting = startBroker({ host: '127.0.0.1', port });

    // Assert
    await expect(starting).rejects.toBeInstanceOf(BrokerListenError);
    await expect(starting).rejects.toMatchObject({ listener: 'tcp', port });
    await new Promise((resolve) => taken.close(resolve));
  });
});
