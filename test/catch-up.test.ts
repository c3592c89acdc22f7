import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Coordinator, type RoundReport } from '../aggregator/index.js';
import { DeviceAgent, LocalTrainer, MessageRefusedError, connectDevice } from '../device-agent/index.js';
import { build, decodeMessage, encodeMessage, sha256Hex } from '../protocol/index.js';
import { aggregatorFixture, mnistExamples, mnistSlice } from './helpers.js';

type CaughtUp = { from: number; to: number; kind: 'steps' | 'full'; bytes: number };

/**
 * Devices that miss versions of a step downlink (`delta:...+ef`) catch up over `to/{id}`: a
 * real broker, a real coordinator, real agents training on MNIST. `late` follows only when
 * chosen and is chosen only in `lateRounds`, so it misses the versions in between.
 */
describe('catching up on missed versions', () => {
  const fixture = aggregatorFixture();

  async function run(o: {
    downlink: string; rounds: number; lateRounds: number[];
    tamper?: (catchUp: ReturnType<typeof decodeMessage<'catchUp'>>) => Uint8Array | null;
  }): Promise<{ reports: RoundReport[]; caughtUp: CaughtUp[]; refused: MessageRefusedError[]; shaOf: Map<number, string>; heldAt: Map<number, string>; late: DeviceAgent; coordinator: Coordinator }> {
    const { broker, control } = await fixture.start();
    const trainer = new LocalTrainer();
    fixture.cleanup(async () => trainer.dispose());
    let next = 1;
    const coordinator = new Coordinator(
      { fleet: 'test', rounds: o.rounds, minDevices: 2, minParticipants: 1, codec: 'int8', downlink: o.downlink, roundTimeoutMs: 60_000, evaluate: [] },
      { client: control, criterion: (d) => d.deviceId !== 'late' || o.lateRounds.includes(next) },
    );
    // The SHA-256 of each version the aggregator sent devices off with.
    const shaOf = new Map<number, string>();
    coordinator.on('roundStarted', (m) => shaOf.set(m.globalVersion, sha256Hex(coordinator.weights)));
    coordinator.on('roundClosed', (r) => (next = r.round + 1));
    const data = mnistExamples(await mnistSlice(200, 'train'));
    const agents = new Map<string, { agent: DeviceAgent; client: MqttClient }>();
    for (const [id, follow] of [['steady', 'always'], ['late', 'when-selected']] as const) {
      const client = await connectDevice({ url: broker.url, deviceId: id, fleet: 'test' });
      const agent = new DeviceAgent(client, { deviceId: id, fleet: 'test', data, follow }, { trainer });
      agents.set(id, { agent, client });
      fixture.cleanup(() => client.endAsync(), () => agent.stop());
    }
    const { agent: late, client } = agents.get('late')!;
    if (o.tamper) {
      // What arrives on to/late passes through `tamper` first (null: as sent).
      const emit = client.emit.bind(client);
      client.emit = ((event: string, ...args: unknown[]) => {
        if (event === 'message' && String(args[0]).endsWith('/to/late')) {
          const changed = o.tamper!(decodeMessage('catchUp', args[1] as Buffer));
          if (changed) args[1] = Buffer.from(changed);
        }
        return emit(event as 'message', ...(args as [string, Buffer, never]));
      }) as typeof client.emit;
    }
    const caughtUp: CaughtUp[] = [];
    const refused: MessageRefusedError[] = [];
    // What `late` holds right after each catch-up, by the version it reached.
    const heldAt = new Map<number, string>();
    late.on('caughtUp', (c) => {
      caughtUp.push(c);
      heldAt.set(c.to, sha256Hex(late.heldGlobal.weights!));
    });
    late.on('warning', (e) => {
      if (!(e instanceof MessageRefusedError)) return;
      refused.push(e);
      heldAt.set(-1, `v${late.heldGlobal.version} ${sha256Hex(late.heldGlobal.weights!)}`);
    });
    for (const { agent } of agents.values()) await agent.start();
    const reports = await coordinator.run();
    return { reports, caughtUp, refused, shaOf, heldAt, late, coordinator };
  }

  it('brings a device that missed 1, 3 and 20 versions to the very model the aggregator holds, by the steps it missed', async () => {
    // Execute: late holds version 0 (built from the task's seed), then is chosen for rounds 2, 5 and 25.
    const { reports, caughtUp, shaOf, heldAt } = await run({ downlink: 'delta:topk:0.1+ternary+ef', rounds: 25, lateRounds: [2, 5, 25] });
    // Assert: each time it caught up by a chain of the steps it missed, to the aggregator's bit-identical model, and trained.
    expect(caughtUp.map((c) => [c.from, c.to, c.kind])).toEqual([[0, 1, 'steps'], [1, 4, 'steps'], [4, 24, 'steps']]);
    for (const version of [1, 4, 24]) expect(heldAt.get(version)).toBe(shaOf.get(version));
    expect([2, 5, 25].map((r) => reports[r - 1]!.accepted)).toEqual([2, 2, 2]);
    // A chain of 20 steps is still smaller than the model (an mlp: 101,770 float32).
    expect(caughtUp[2]!.bytes).toBeLessThan(101_770 * 4);
    // The report counts what the catch-ups sent.
    expect(reports[24]!.bytesDown).toBeGreaterThan(caughtUp[2]!.bytes);
  }, 240_000);

  it('sends the full copy when the steps missed weigh more than the model', async () => {
    // Prepare: f16 steps are half the model, so three of them outweigh a full copy.
    const { caughtUp, shaOf, heldAt, reports } = await run({ downlink: 'delta:f16', rounds: 5, lateRounds: [2, 5] });
    expect(caughtUp.map((c) => [c.from, c.to, c.kind])).toEqual([[0, 1, 'steps'], [1, 4, 'full']]);
    expect(heldAt.get(4)).toBe(shaOf.get(4));
    expect(reports[4]!.accepted).toBe(2);
  }, 120_000);

  it('refuses a chain with a corrupt step, or with steps out of order, keeps its model, and falls back to the full copy', async () => {
    for (const mutate of ['corrupt', 'reorder'] as const) {
      let tampered = 0;
      const { caughtUp, refused, shaOf, heldAt, reports } = await run({
        downlink: 'delta:topk:0.1+ternary+ef', rounds: 5, lateRounds: [1, 5],
        tamper: (c) => {
          if (!c.steps || c.steps.length < 2) return null;
          tampered += 1;
          const steps = [...c.steps];
          if (mutate === 'reorder') [steps[0], steps[1]] = [steps[1]!, steps[0]!];
          else {
            const step = decodeMessage('globalDelta', steps[1]!);
            const delta = new Uint8Array(step.delta);
            delta[delta.length - 1]! ^= 0x40;
            steps[1] = encodeMessage({ ...step, delta });
          }
          return encodeMessage(build.catchUp({ version: c.version, baseVersion: c.baseVersion, steps }));
        },
      });
      // Assert: the tampered chain (v0 -> v4) refused whole, then the full copy, and late trained in round 5 from the aggregator's model.
      expect(tampered).toBe(1);
      expect(refused.map((e) => e.kind)).toEqual(['to']);
      // When it refused the chain it still held version 0 as it was.
      expect(heldAt.get(-1)).toBe(`v0 ${shaOf.get(0)}`);
      expect(caughtUp.map((c) => [c.from, c.to, c.kind])).toEqual([[0, 4, 'full']]);
      expect(heldAt.get(4)).toBe(shaOf.get(4));
      expect(reports[4]!.accepted).toBe(2);
    }
  }, 240_000);
});
