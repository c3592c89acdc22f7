import { describe, expect, it } from 'vitest';
import { SecAggDevice } from './device.js';
import { SecAggError } from './errors.js';
import { runSecAggRound } from './inMemory.js';
import type { SecAggMasked, SecAggShareDelivery, SecAggUnmaskRequest } from './messages.js';
import { dequantizeSum, secaggQuantizer } from './quantize.js';
import { SecAggServer } from './server.js';
import { byteChiSquare, cborTrip, chiSquareQuantile, deviceIds, fakeUpdate, plainSum, quantizedUpdate, seeded } from './testSupport.js';

const LENGTH = 1000;
const q = secaggQuantizer(1, 1000);
const input = (id: string) => quantizedUpdate(id, LENGTH, q);
const graphRandom = (seed: number) => {
  const r = seeded(seed);
  return (max: number) => Math.floor(r() * max);
};
/** Every `1/fraction`-th id, spread over the ring, as a drop set. */
const every = (ids: string[], fraction: number) => new Set(ids.filter((_, i) => i % Math.round(1 / fraction) === 0).slice(0, Math.floor(ids.length * fraction)));
const code = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e instanceof SecAggError ? e.code : `not a SecAggError: ${String(e)}`;
  }
  return 'no error';
};

/** A round driven step by step (for tests that play a dishonest server or a tampering broker). */
async function roundUntilMasked(n: number, drop: ReadonlySet<string> = new Set()) {
  const ids = deviceIds(n);
  const server = new SecAggServer({ fleet: 'f', round: 7, vectorLength: LENGTH, random: graphRandom(n) });
  const devices = new Map(ids.map((id) => [id, new SecAggDevice({ fleet: 'f', round: 7, id })]));
  for (const d of devices.values()) server.receiveKeys(d.advertise());
  for (const [id, setup] of server.setup()) server.receiveShares(await devices.get(id)!.share(setup));
  const deliveries = server.deliverShares();
  for (const [id, delivery] of deliveries) if (!drop.has(id)) server.receiveMasked(devices.get(id)!.mask(delivery, input(id)));
  return { ids, server, devices, deliveries };
}

describe('SecAgg+ round (real X25519, HKDF, AES-GCM, AES-CTR, Shamir)', () => {
  it.each([5, 20, 100])('with %i devices unmasks exactly the plain Z_2^32 sum of the quantized updates', async (n) => {
    const ids = deviceIds(n);
    const run = await runSecAggRound({ ids, vectorLength: LENGTH, input, random: graphRandom(n) });
    expect(run.result.dropped).toEqual([]);
    expect(run.result.sum).toEqual(plainSum(ids.map(input), LENGTH));
    // ...and that sum dequantizes to the float sum of the updates.
    const floats = dequantizeSum(run.result.sum, q, n);
    for (const i of [0, 1, LENGTH - 1]) {
      const exact = ids.reduce((s, id) => s + fakeUpdate(id, LENGTH)[i]!, 0);
      expect(Math.abs(floats[i]! - exact)).toBeLessThanOrEqual(n / q.scale + 1e-5);
    }
    if (n === 100) expect(run.result.params.k).toBeLessThan(n - 1); // sparse: SecAgg+, not the full graph
  });

  it.each([20, 100])('with %i devices, 30 percent dropping after masking still gives the exact sum of the rest', async (n) => {
    const ids = deviceIds(n);
    const drop = every(ids, 0.3);
    expect(drop.size).toBe(Math.floor(0.3 * n));
    const run = await runSecAggRound({ ids, vectorLength: LENGTH, input, dropBeforeMasked: drop, random: graphRandom(n + 1) });
    const rest = ids.filter((id) => !drop.has(id));
    expect([...run.result.dropped].sort()).toEqual([...drop].sort());
    expect(run.result.sum).toEqual(plainSum(rest.map(input), LENGTH));
    expect(run.result.sum).not.toEqual(plainSum(ids.map(input), LENGTH));
  });

  it('runs with every message through CBOR, as over MQTT', async () => {
    const ids = deviceIds(20);
    const drop = every(ids, 0.3);
    const types = new Set<string>();
    const run = await runSecAggRound({
      ids, vectorLength: LENGTH, input, dropBeforeMasked: drop,
      carry: (m) => cborTrip(m, (_bytes, msg) => types.add(msg.type)),
    });
    expect(types.size).toBe(7);
    expect(run.result.sum).toEqual(plainSum(ids.filter((id) => !drop.has(id)).map(input), LENGTH));
  });

  it('handles devices that leave after their keys, before sharing, beside later dropouts', async () => {
    const ids = deviceIds(20);
    const early = new Set(['dev-0002', 'dev-0011']);
    const late = new Set(['dev-0005', 'dev-0014', 'dev-0017']);
    const run = await runSecAggRound({ ids, vectorLength: LENGTH, input, dropBeforeShares: early, dropBeforeMasked: late, random: graphRandom(9) });
    expect([...run.result.dropped].sort()).toEqual([...late].sort()); // the early ones never shared: nothing to unmask
    expect(run.result.sum).toEqual(plainSum(ids.filter((id) => !early.has(id) && !late.has(id)).map(input), LENGTH));
  });

  it('also survives a device that masks but never answers the unmask request, and ChaCha20 masks', async () => {
    const ids = deviceIds(20);
    const drop = every(ids, 0.3);
    const run = await runSecAggRound({ ids, vectorLength: LENGTH, input, dropBeforeMasked: drop, dropBeforeUnmask: new Set(['dev-0001']), prg: 'chacha20', random: graphRandom(3) });
    expect(run.result.sum).toEqual(plainSum(ids.filter((id) => !drop.has(id)).map(input), LENGTH));
  });

  it('sends masked updates that are indistinguishable from uniform bytes, unlike the update itself', async () => {
    const length = 1 << 16; // 262,144 bytes: 1,024 expected per byte value
    const ids = deviceIds(5);
    const masked: SecAggMasked[] = [];
    const inputOf = (id: string) => quantizedUpdate(id, length, q);
    await runSecAggRound({
      ids, vectorLength: length, input: inputOf,
      carry: (m) => {
        if (m.type === 'secagg-masked') masked.push(m);
        return m;
      },
    });
    // Chi-square with 255 degrees of freedom; a truly uniform vector exceeds this with probability 1e-6.
    const threshold = chiSquareQuantile(255, 4.753);
    expect(masked).toHaveLength(5);
    for (const m of masked) {
      expect(byteChiSquare(m.masked)).toBeLessThan(threshold);
      let top = 0; // top bits: binomial(2^16, 1/2), 5 sigma = 640
      for (const w of m.masked) top += w >>> 31;
      expect(Math.abs(top - length / 2)).toBeLessThan(640);
    }
    // The negative check: the unmasked quantized update fails the same test by far.
    expect(byteChiSquare(inputOf(ids[0]!))).toBeGreaterThan(threshold * 10);
  });

  it('an aggregator that asks for both kinds of shares of one device gets neither', async () => {
    const { server, devices } = await roundUntilMasked(20);
    const requests = server.requestUnmask();
    const victim = 'dev-0005';
    const holders = [...requests.values()].filter((r) => r.survivors.includes(victim)).map((r) => r.id);
    expect(holders.length).toBeGreaterThanOrEqual(2);
    // A dishonest server declares the victim both surviving and dropped to every holder.
    for (const [id, r] of requests) {
      const ask: SecAggUnmaskRequest = holders.includes(id) ? { ...r, dropped: [...r.dropped, victim] } : r;
      if (holders.includes(id)) {
        expect(() => devices.get(id)!.unmask(ask)).toThrow(/both surviving and dropped/);
        continue;
      }
      const response = devices.get(id)!.unmask(ask);
      expect([...response.selfSeedShares, ...response.maskKeyShares].some((s) => s.of === victim)).toBe(false);
      server.receiveUnmask(response);
    }
    // Nothing of the victim reached the server: it cannot even rebuild b, let alone s.
    expect(await code(server.finish())).toBe('too-few');
  });

  it('a device never reveals the other kind of share later, nor anything when it is declared dropped itself', async () => {
    const { server, devices } = await roundUntilMasked(10);
    const [id, honest] = [...server.requestUnmask()][0]!;
    const device = devices.get(id)!;
    const j = honest.survivors[0]!;
    expect(device.unmask(honest).selfSeedShares.some((s) => s.of === j)).toBe(true);
    expect(device.unmask(honest).selfSeedShares).toHaveLength(honest.survivors.length); // a retry is fine
    const flipped = { ...honest, survivors: honest.survivors.filter((s) => s !== j), dropped: [...honest.dropped, j] };
    expect(await code(() => device.unmask(flipped))).toBe('both-shares-requested');
    expect(await code(() => device.unmask({ ...honest, dropped: [id] }))).toBe('bad-request');
    expect(await code(() => device.unmask({ ...honest, survivors: ['dev-9999'] }))).toBe('bad-request');
  });

  it('refuses a tampered or misrouted encrypted share, and too few shares', async () => {
    const ids = deviceIds(10);
    const server = new SecAggServer({ fleet: 'f', round: 1, vectorLength: LENGTH });
    const devices = new Map(ids.map((id) => [id, new SecAggDevice({ fleet: 'f', round: 1, id })]));
    for (const d of devices.values()) server.receiveKeys(d.advertise());
    for (const [id, setup] of server.setup()) server.receiveShares(await devices.get(id)!.share(setup));
    const [id, delivery] = [...server.deliverShares()][0]!;
    const box = delivery.boxes[0]!;
    const flipped = Uint8Array.from(box.box);
    flipped[20]! ^= 1;
    const tampered: SecAggShareDelivery = { ...delivery, boxes: [{ ...box, box: flipped }, ...delivery.boxes.slice(1)] };
    expect(() => devices.get(id)!.mask(tampered, input(id))).toThrow(/authentication failed/);
    // The same box claimed to come from another neighbour does not open either (sender bound in AAD and key).
    const other = delivery.boxes[1]!;
    const misrouted: SecAggShareDelivery = { ...delivery, boxes: [{ peer: other.peer, box: box.box }, { peer: box.peer, box: other.box }, ...delivery.boxes.slice(2)] };
    expect(await code(() => devices.get(id)!.mask(misrouted, input(id)))).toBe('bad-share');
    // A delivery with fewer than t boxes (a server withholding shares) is refused too.
    const t = server.params!.t;
    expect(await code(() => devices.get(id)!.mask({ ...delivery, boxes: delivery.boxes.slice(0, t - 1) }, input(id)))).toBe('too-few');
    // The untouched delivery still works: a refusal changed nothing.
    expect(devices.get(id)!.mask(delivery, input(id)).masked).toHaveLength(LENGTH);
  });

  it('fails with a clear error, not a wrong sum, when too many devices drop', async () => {
    // 8 of 10 gone before masking: no survivor has t surviving holders of its seed.
    const ids = deviceIds(10);
    const drop = new Set(ids.slice(0, 8));
    const failing = runSecAggRound({ ids, vectorLength: LENGTH, input, dropBeforeMasked: drop });
    await expect(failing).rejects.toThrow(/too many dropouts|at least t/);
    expect(await code(runSecAggRound({ ids, vectorLength: LENGTH, input, dropBeforeMasked: drop }))).toBe('too-few');
    // Holders that drop during unmasking: the server has fewer than t shares and says so.
    const { server, devices } = await roundUntilMasked(20);
    const requests = server.requestUnmask();
    const victim = 'dev-0003';
    for (const [id, r] of requests) if (!r.survivors.includes(victim)) server.receiveUnmask(devices.get(id)!.unmask(r));
    await expect(server.finish()).rejects.toThrow(/cannot rebuild the self-mask seed of dev-0003: 0 share\(s\) arrived, the threshold is \d+/);
  });

  it('detects corrupted shares from a lying neighbour instead of summing garbage', async () => {
    const { server, devices } = await roundUntilMasked(10);
    for (const [id, r] of server.requestUnmask()) {
      const response = devices.get(id)!.unmask(r);
      const bad = response.selfSeedShares.map((s) => ({ of: s.of, share: s.of === 'dev-0002' ? s.share.map((b, i) => (i === 0 ? b ^ 0xff : b)) : s.share }));
      server.receiveUnmask({ ...response, selfSeedShares: bad });
    }
    await expect(server.finish()).rejects.toThrow(/does not match its commitment/);
  });

  it('refuses out-of-order steps, messages for another round and fleets under 3 devices', async () => {
    const d = new SecAggDevice({ fleet: 'f', round: 1, id: 'a' });
    expect(await code(() => d.unmask({ type: 'secagg-unmask-request', round: 1, id: 'a', survivors: [], dropped: [] }))).toBe('out-of-order');
    const server = new SecAggServer({ fleet: 'f', round: 1, vectorLength: 4 });
    expect(await code(() => server.receiveKeys({ ...d.advertise(), round: 2 }))).toBe('bad-message');
    server.receiveKeys(new SecAggDevice({ fleet: 'f', round: 1, id: 'b' }).advertise());
    expect(await code(() => server.setup())).toBe('too-few');
  });
});
