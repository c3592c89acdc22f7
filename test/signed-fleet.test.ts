import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Coordinator, type RoundReport } from '../aggregator/index.js';
import { DeviceAgent, LocalTrainer, connectDevice } from '../device-agent/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { MessageSigner } from '../privacy/index.js';
import {
  Rng, build, builtinTask, encodeGlobal, encodeMessage, parseCodec, sha256Hex, type RoundMessage, type TrustRefusal,
} from '../protocol/index.js';
import { waitFor } from './agent-support.js';
import { aggregatorFixture, mnistExamples, mnistSlice, topics } from './helpers.js';

/** What one agent did: the rounds it trained, what it refused by reason, its catch-ups. */
interface Watched {
  agent: DeviceAgent;
  trained: RoundMessage[];
  refused: { kind: string; reason: TrustRefusal }[];
  caughtUp: { from: number; to: number; kind: 'steps' | 'full' }[];
}

/**
 * Signed fleet messages against a rogue publisher: a real broker without --auth (anyone may
 * publish on the fleet's topics), a coordinator signing with its Ed25519 key, real agents
 * training on MNIST, and a raw mqtt.js client sending forgeries and replays.
 */
describe('signed fleet messages: agents started with --trust', () => {
  const fixture = aggregatorFixture();

  async function fleet(o: { downlink: string; rounds: number; devices: { id: string; follow: 'always' | 'when-selected'; trust: boolean; chosen?: number[] }[] }) {
    const { broker, control } = await fixture.start();
    const signer = MessageSigner.ephemeral();
    const trainer = new LocalTrainer();
    fixture.cleanup(async () => trainer.dispose());
    let next = 1;
    const coordinator = new Coordinator(
      { fleet: 'test', rounds: o.rounds, minDevices: o.devices.length, minParticipants: 1, codec: 'int8', downlink: o.downlink, roundTimeoutMs: 60_000, evaluate: [] },
      { client: control, signer, criterion: (d) => o.devices.find((x) => x.id === d.deviceId)?.chosen?.includes(next) ?? true },
    );
    const genuine: RoundMessage[] = [];
    coordinator.on('roundStarted', (m) => genuine.push(m));
    coordinator.on('roundClosed', (r) => (next = r.round + 1));
    const data = mnistExamples(await mnistSlice(200, 'train'));
    const watched = new Map<string, Watched>();
    for (const d of o.devices) {
      const client = await connectDevice({ url: broker.url, deviceId: d.id, fleet: 'test' });
      const agent = new DeviceAgent(client, { deviceId: d.id, fleet: 'test', data, follow: d.follow }, { trainer, ...(d.trust && { trust: signer.trust('test') }) });
      const w: Watched = { agent, trained: [], refused: [], caughtUp: [] };
      agent.on('trainingStarted', (m) => w.trained.push(m));
      agent.on('untrusted', (u) => w.refused.push({ kind: u.kind, reason: u.reason }));
      agent.on('caughtUp', (c) => w.caughtUp.push(c));
      watched.set(d.id, w);
      fixture.cleanup(() => client.endAsync(), () => agent.stop());
    }
    return { broker, signer, coordinator, genuine, watched };
  }

  /** Trained only on rounds the aggregator announced, exactly as announced. */
  function trainedOnlyGenuine(w: Watched, genuine: RoundMessage[]): void {
    for (const r of w.trained) expect(genuine).toContainEqual(r);
  }

  it('trains on none of a rogue client\'s forged globals, replays, forged rounds (unsigned, 1e9 epochs, NaN lr) and forged catch-ups; the run goes on', async () => {
    // Prepare: two trusting devices and one that trusts nothing (chosen for no genuine round), a rogue that records what the aggregator signs.
    const { broker, coordinator, genuine, watched } = await fleet({
      downlink: 'f32', rounds: 4,
      devices: [{ id: 'pi-0', follow: 'always', trust: true }, { id: 'pi-1', follow: 'always', trust: true }, { id: 'naive', follow: 'always', trust: false, chosen: [] }],
    });
    const rogue = await mqtt.connectAsync(broker.url, { clientId: 'rogue', reconnectPeriod: 0 });
    fixture.cleanup(() => rogue.endAsync(true));
    const recorded: { topic: string; payload: Buffer }[] = [];
    rogue.on('message', (topic, payload) => recorded.push({ topic, payload }));
    await rogue.subscribeAsync([topics.global, topics.round], { qos: 1 });
    const publish = (topic: string, bytes: Uint8Array, retain = true): Promise<unknown> => rogue.publishAsync(topic, Buffer.from(bytes), { qos: 1, retain });

    const weights = taskInitialWeights(builtinTask('mlp'), 7).map((v) => v * 3);
    const forged = encodeGlobal(weights, parseCodec('f32'), new Rng(0));
    const forgedGlobal = encodeMessage(build.global({ version: 99, round: 99, codec: 'f32', weights: forged.bytes, sha256: forged.sha256 }));
    const now = Date.now();
    const forgedRound = (over: Partial<RoundMessage>): Uint8Array => encodeMessage({
      ...build.round({
        round: 99, globalVersion: 1, participants: ['pi-0', 'pi-1', 'naive'], deadline: now + 600_000, issuedAt: now, codec: 'int8', seed: 5, epochs: 1, batchSize: 20, lr: 0.05,
      }), ...over,
    });
    let attacked: Promise<void> | null = null;
    const attack = async (): Promise<void> => {
      const v0 = recorded.find((m) => m.topic === topics.global)!.payload;
      const round1 = recorded.find((m) => m.topic === topics.round)!.payload;
      await publish(topics.global, forgedGlobal); // forged (unsigned), a valid sha256
      await publish(topics.global, MessageSigner.ephemeral().seal('test', forgedGlobal)); // signed by another key
      await publish(topics.global, v0); // the aggregator's own v0, replayed after v1
      await publish(topics.round, forgedRound({})); // unsigned, within every bound
      await publish(topics.round, forgedRound({ round: 100, epochs: 1e9 }));
      await publish(topics.round, forgedRound({ round: 101, lr: NaN }));
      await publish(topics.round, round1); // the aggregator's own round 1, replayed in round 2
      await publish(topics.to('pi-0'), encodeMessage(build.catchUp({ version: 99, baseVersion: -1, full: forgedGlobal })), false);
      await publish(topics.to('pi-0'), encodeMessage(build.catchUp({ version: 0, baseVersion: -1, full: v0 })), false);
    };
    // The attack starts once pi-0 trains round 2 (so it holds v1 and has taken round 2).
    watched.get('pi-0')!.agent.on('trainingStarted', (m) => {
      if (m.round === 2) attacked ??= attack();
    });

    // Execute
    for (const w of watched.values()) await w.agent.start();
    const reports: RoundReport[] = await coordinator.run();
    await attacked;
    const [pi0, pi1, naive] = ['pi-0', 'pi-1', 'naive'].map((id) => watched.get(id)!);
    const count = (w: Watched, reason: TrustRefusal): number => w.refused.filter((r) => r.reason === reason).length;
    await waitFor('every forgery refused', () => pi0!.refused.length >= 9 && pi1!.refused.length >= 7, 30_000);
    await waitFor('the last global', () => [pi0!, pi1!].every((w) => w.agent.heldGlobal.version === reports.length), 30_000);

    // Assert: the run went on with the aggregator's rounds, both devices in each.
    expect(reports.map((r) => [r.round, r.accepted, r.aggregated])).toEqual([[1, 2, true], [2, 2, true], [3, 2, true], [4, 2, true]]);
    // The trusting devices trained on the genuine rounds only, and hold the aggregator's model.
    for (const w of [pi0!, pi1!]) {
      trainedOnlyGenuine(w, genuine);
      expect(w.trained.map((r) => r.round)).toEqual([1, 2, 3, 4]);
      expect(w.agent.heldGlobal.sha256).toBe(sha256Hex(coordinator.weights));
    }
    // Every forgery refused, by its reason; pi-1 had no catch-ups sent to it.
    expect([count(pi0!, 'unsigned'), count(pi0!, 'other-key'), count(pi0!, 'replay')]).toEqual([5, 1, 3]);
    expect([count(pi1!, 'unsigned'), count(pi1!, 'other-key'), count(pi1!, 'replay')]).toEqual([4, 1, 2]);
    expect(pi0!.agent.untrusted).toMatchObject({ unsigned: 5, 'other-key': 1, replay: 3 });
    // Without --trust the same forged round is trained on: what the signatures stop.
    expect(naive!.trained.map((r) => r.round)).toContain(99);
    expect(naive!.refused).toEqual([]);
  }, 180_000);

  it('verifies each signed step a catch-up carries: a device that missed versions catches up by the chain and trains', async () => {
    // Prepare: a step downlink; `late` follows only when chosen, and is chosen in round 4 only.
    const { coordinator, genuine, watched } = await fleet({
      downlink: 'delta:int8', rounds: 4,
      devices: [{ id: 'steady', follow: 'always', trust: true }, { id: 'late', follow: 'when-selected', trust: true, chosen: [4] }],
    });

    // Execute
    for (const w of watched.values()) await w.agent.start();
    const reports = await coordinator.run();

    // Assert: late caught up from v0 (built from the signed task's seed) to v3 by the three signed steps and trained; nothing refused.
    const late = watched.get('late')!;
    expect(late.caughtUp.map((c) => [c.from, c.to, c.kind])).toEqual([[0, 3, 'steps']]);
    expect(reports.map((r) => r.accepted)).toEqual([1, 1, 1, 2]);
    for (const w of watched.values()) {
      expect(w.refused).toEqual([]);
      trainedOnlyGenuine(w, genuine);
    }
    expect(late.trained.map((r) => r.round)).toEqual([4]);
  }, 180_000);
});

