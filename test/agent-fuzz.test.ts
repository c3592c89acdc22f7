import { Encoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { MessageRefusedError } from '../device-agent/index.js';
import { taskMismatch } from '../datasets/index.js';
import { ManualClock, Rng, decodeGlobal, decodeMessage, encodeMessage, parseCodec, parseDownlink, type RoundMessage } from '../protocol/index.js';
import { MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, MAX_MU, MAX_ROUND_MS } from '../protocol/wire.js';
import { brokerFixture, mnistSlice } from './helpers.js';
import { MLP_PARAMS, RawAggregator, mlpGlobal, mlpTask, roundFor, startAgent, waitFor } from './agent-support.js';

const DEVICE = 'dev-fuzz';
const T0 = 1_700_000_000_000;
const MESSAGES = 10_000;
const BATCH = 250;
type Kind = 'task' | 'global' | 'round';

// No valid delta downlink among them: a device that takes one may stop listening to full globals
// (it follows the steps), and this test counts the refusals of every global it sends.
// Plain maps, as fedmq encodes: the fuzzer writes any CBOR, not only what encodeMessage would.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

const HUGE_PARTICIPANTS = Array.from({ length: 100_001 }, (_, i) => `d${i}`);
const HOSTILE_VALUES: unknown[] = [
  null, true, false, '', 'x'.repeat(100_000), -1, -0, 0, 0.5, 1, 2, 10, 11, 1_000, 1_001, 1_024, 1_025, 1e308, -1e308, NaN, Infinity,
  -Infinity, 2 ** 53, 2 ** 53 - 1, 2 ** 64, 1e-320, 0xffffffff, 0x100000000, T0 - 1, T0 + 1_000, T0 + MAX_ROUND_MS + 1, [], [1, 2, 3], [-1],
  [28, 28, 1], [28, 28], [1 << 20, 1 << 20], new Array(9).fill(1), {}, { epochs: 1 }, new Uint8Array(0), new Uint8Array(1_000),
  new Float32Array([NaN, 1]), 'f32', 'f16', 'int8', 'topk:0.01+int8+ef', 'delta:nope', 'zstd', 'mlp', 'cnn', 'resnet',
  'task', 'round', 'global', 'a'.repeat(64), 'a'.repeat(65), [DEVICE], [DEVICE, 'a/b'], [DEVICE, '+'], ['$SYS'],
];

/** Seeded messages: random bytes, random CBOR, valid messages with fields mutated, truncated or with flipped bits. */
class Fuzzer {
  private readonly rng: Rng;
  private readonly valid: Record<Kind, Record<string, unknown>>;
  private readonly encoded: Record<Kind, Uint8Array>;

  constructor(seed: number) {
    this.rng = new Rng(seed);
    // Most globals are mutated from one with a few bytes of weights: a full mlp global is 400 KB.
    const small = { ...mlpGlobal(), weights: new Uint8Array(8) };
    this.valid = { task: { ...mlpTask() }, global: small, round: { ...roundFor([DEVICE, 'dev-other'], 5, T0 + 5_000) } };
    this.encoded = { task: encodeMessage(mlpTask()), global: encodeMessage(mlpGlobal()), round: encodeMessage(roundFor([DEVICE], 5, T0 + 5_000)) };
  }

  next(): { kind: Kind; payload: Uint8Array } {
    const kind = (['task', 'global', 'round'] as const)[this.rng.int(3)]!;
    const r = this.rng.next();
    let payload: Uint8Array;
    if (r < 0.1) payload = this.randomBytes(1 + this.rng.int(300));
    else if (r < 0.2) payload = cbor.encode(this.randomValue(3, kind));
    else if (r < 0.75) payload = cbor.encode(this.mutate(kind));
    else if (r < 0.9) payload = this.truncate(kind);
    else payload = this.flipBits(kind);
    return { kind, payload: payload.byteLength === 0 ? new Uint8Array([0xff]) : payload };
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.rng.int(items.length)]!;
  }

  private randomBytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.rng.int(256);
    return out;
  }

  private randomNumber(): number {
    const magnitude = 10 ** (this.rng.int(40) - 10);
    const n = (this.rng.next() * 2 - 1) * magnitude;
    return this.rng.next() < 0.5 ? Math.round(n) : n;
  }

  private randomValue(depth: number, kind: Kind): unknown {
    const r = this.rng.int(depth > 0 ? 8 : 5);
    if (r === 0) return this.randomNumber();
    if (r === 1) return this.pick(HOSTILE_VALUES);
    if (r === 2) return String.fromCharCode(...this.randomBytes(this.rng.int(40)));
    if (r === 3) return this.randomBytes(this.rng.int(64));
    if (r === 4) return this.rng.next() < 0.5 ? null : this.rng.next() < 0.5;
    if (r === 5) return Array.from({ length: this.rng.int(6) }, () => this.randomValue(depth - 1, kind));
    // A map that claims to be the right message, with random fields.
    const m: Record<string, unknown> = this.rng.next() < 0.7 ? { v: 1, type: kind === 'global' ? 'global' : kind } : {};
    const fields = Object.keys(this.valid[kind]);
    for (let i = this.rng.int(8); i > 0; i--) m[this.rng.next() < 0.8 ? this.pick(fields) : `k${this.rng.int(100)}`] = this.randomValue(depth - 1, kind);
    return m;
  }

  private mutate(kind: Kind): Record<string, unknown> {
    const base: Record<string, unknown> = kind === 'global' && this.rng.next() < 0.05 ? { ...mlpGlobal() } : { ...this.valid[kind] };
    const fields = Object.keys(base);
    // One more participant than a round may list: rare, as each costs tens of ms to encode and decode.
    if (kind === 'round' && this.rng.next() < 0.01) base.participants = HUGE_PARTICIPANTS;
    for (let i = 1 + this.rng.int(3); i > 0; i--) {
      const field = this.rng.next() < 0.9 ? this.pick(fields) : `extra${this.rng.int(5)}`;
      const op = this.rng.next();
      if (op < 0.1) delete base[field];
      else if (op < 0.2 && field === 'defaults') base.defaults = { ...(base.defaults as object), [this.pick(['epochs', 'batchSize', 'lr'])]: this.pick(HOSTILE_VALUES) };
      else if (op < 0.5) base[field] = this.randomNumber();
      else base[field] = this.pick(HOSTILE_VALUES);
    }
    return base;
  }

  private truncate(kind: Kind): Uint8Array {
    const whole = kind === 'global' && this.rng.next() < 0.8 ? cbor.encode(this.valid.global) : this.encoded[kind];
    return whole.slice(0, this.rng.int(whole.byteLength));
  }

  private flipBits(kind: Kind): Uint8Array {
    const out = (kind === 'global' ? cbor.encode(this.valid.global) : this.encoded[kind]).slice();
    for (let i = 1 + this.rng.int(8); i > 0; i--) out[this.rng.int(out.byteLength)]! ^= 1 << this.rng.int(8);
    return out;
  }
}

/**
 * What the agent must take, written from the wire format and the model zoo, not from the agent:
 * a message that decodes, a task for the mlp as this build knows it with a codec and downlink it
 * knows, a global that decodes for the mlp, a round that ends within a day of the agent's clock.
 */
function acceptable(kind: Kind, payload: Uint8Array): boolean {
  try {
    if (kind === 'task') {
      const task = decodeMessage('task', payload);
      // The agent's own rule: the task must fit its MNIST examples.
      if (taskMismatch({ shape: [28, 28, 1], target: { kind: 'classification', classes: [...'0123456789'] } }, task.task) !== undefined) return false;
      parseCodec(task.codec);
      parseDownlink(task.downlink);
    } else if (kind === 'global') {
      decodeGlobal(decodeMessage('global', payload), MLP_PARAMS);
    } else {
      return decodeMessage('round', payload).deadline - T0 <= MAX_ROUND_MS;
    }
    return true;
  } catch {
    return false;
  }
}

describe('an agent under a stream of fuzzed messages', () => {
  const fixture = brokerFixture();

  it('survives 10,000 fuzzed task, global and round messages, refuses exactly the invalid ones, trains on none of them, and trains on the next valid round', async () => {
    // Prepare: a real broker, a raw aggregator, a real agent on 20 examples that holds the task and global.
    const broker = await fixture.start();
    const aggregator = await RawAggregator.connect(broker.url);
    fixture.cleanup(() => aggregator.end());
    const { agent, client, events } = await startAgent(broker.url, DEVICE, await mnistSlice(20, 'train'), { clock: new ManualClock(T0) });
    fixture.cleanup(() => client.endAsync(true), () => agent.stop());
    await aggregator.publish('task', mlpTask());
    await aggregator.publish('global', mlpGlobal());
    const fuzzer = new Fuzzer(20_251);
    const expected: Record<Kind, number> = { task: 0, global: 0, round: 0 };
    const acceptedRounds = new Set<string>();
    const started = Date.now();
    let generateMs = 0;

    // Execute: the fuzzed messages, not retained, in batches.
    for (let sent = 0; sent < MESSAGES; sent += BATCH) {
      const t = Date.now();
      const batch = Array.from({ length: Math.min(BATCH, MESSAGES - sent) }, () => fuzzer.next());
      for (const { kind, payload } of batch) {
        if (!acceptable(kind, payload)) expected[kind] += 1;
        else if (kind === 'round') acceptedRounds.add(key(decodeMessage('round', payload)));
      }
      generateMs += Date.now() - t;
      await Promise.all(batch.map(({ kind, payload }) => aggregator.publish(kind, payload, false)));
    }
    const refusals = (): Record<Kind, number> => {
      const counts: Record<Kind, number> = { task: 0, global: 0, round: 0 };
      for (const e of events.warning) if (e instanceof MessageRefusedError && e.kind !== 'global-delta' && e.kind !== 'to') counts[e.kind] += 1;
      return counts;
    };
    const total = expected.task + expected.global + expected.round;
    await waitFor(`${total} refusals`, () => events.warning.length >= total, 30_000);
    const fuzzMs = Date.now() - started;
    // Then the real task, global and a round after it.
    await aggregator.startRound(roundFor([DEVICE], 1_000_000, T0 + 5_000));
    await aggregator.updateFor(DEVICE, 1_000_000, 20_000);

    // Assert: alive and connected, one refusal per invalid message (and no other warning), no
    // training on a refused round nor beyond the bounds, and the valid round trained.
    console.log(`fuzz: ${MESSAGES} messages in ${fuzzMs} ms (${generateMs} ms generating and judging them); refused ${JSON.stringify(expected)}; rounds accepted ${acceptedRounds.size}; trainings ${events.trainingStarted.length}`);
    expect(client.connected).toBe(true);
    expect(refusals()).toEqual(expected);
    expect(events.warning.filter((e) => !(e instanceof MessageRefusedError))).toEqual([]);
    expect(expected.task).toBeGreaterThan(3_000);
    expect(expected.round).toBeGreaterThan(2_000);
    const trained = events.trainingStarted.slice(0, -1);
    expect(trained.length).toBeGreaterThan(0);
    for (const round of trained) {
      expect(acceptedRounds.has(key(round))).toBe(true);
      expect(round.epochs).toBeLessThanOrEqual(MAX_EPOCHS);
      expect(round.batchSize).toBeLessThanOrEqual(MAX_BATCH_SIZE);
      expect(round.lr).toBeLessThanOrEqual(MAX_LR);
      expect(round.mu).toBeLessThanOrEqual(MAX_MU);
      expect(round.participants).toContain(DEVICE);
    }
    expect(events.trainingStarted.at(-1)!.round).toBe(1_000_000);
  }, 120_000);
});

function key(round: RoundMessage): string {
  return JSON.stringify([round.round, round.deadline, round.seed, round.epochs, round.batchSize, round.lr, round.mu, round.globalVersion]);
}
