import { describe, expect, it } from 'vitest';
import { DecodeError, build, decodeMessage, encodeMessage, parseDownlink, type SyncMessage } from '../protocol/index.js';
import { GlobalBroadcaster } from './broadcast.js';
import { CatchUpDesk } from './catchUp.js';

const N = 5000; // above DENSE_STEPS_UP_TO: the steps are the downlink codec's, not float32
/** A model that moves by `size` each version. */
const model = (version: number, size = 0.01): Float32Array => new Float32Array(N).map((_, i) => Math.sin(i) + size * version * Math.cos(i * version));
const sync = (deviceId: string, have: number, round = 1): SyncMessage => build.sync({ deviceId, round, have });

describe('the aggregator keeps the steps it sent', () => {
  it('answers a device that missed versions with their chain while it is smaller than the model, else with the full copy', () => {
    // Prepare: top-10% ternary steps are about 1/20 of the float32 model.
    const b = new GlobalBroadcaster(parseDownlink('delta:topk:0.1+ternary'), 1);
    for (let v = 0; v <= 30; v++) b.release(model(v), v);
    // Execute
    const one = b.catchUp(29)!;
    const three = b.catchUp(27)!;
    const none = b.catchUp(-1)!;
    const ancient = b.catchUp(0)!;
    // Assert: chains from the versions kept, each smaller than the model; a full copy otherwise.
    expect([one.kind, three.kind, none.kind]).toEqual(['steps', 'steps', 'full']);
    expect(decodeMessage('catchUp', three.message).steps).toHaveLength(3);
    expect(three.message.byteLength).toBeLessThan(none.message.byteLength);
    expect(decodeMessage('catchUp', none.message)).toMatchObject({ version: 30, baseVersion: -1 });
    // 30 steps weigh more than a copy: the oldest were let go, so version 0 gets the full copy.
    expect(ancient.kind).toBe('full');
    expect(b.catchUp(30)).toBeNull();
  });

  it('starts a new chain after a version sent without a step (a restart): older versions get the full copy', () => {
    const b = new GlobalBroadcaster(parseDownlink('delta:int8'), 1);
    for (let v = 0; v <= 2; v++) b.release(model(v), v);
    b.resumeAt(3);
    b.release(model(3), 3);
    b.release(model(4), 4);
    expect([b.catchUp(3)!.kind, b.catchUp(2)!.kind]).toEqual(['steps', 'full']);
  });
});

describe('the catch-up desk', () => {
  it('answers a device once per version, and once more only to send the full copy; counts what it sent by device', () => {
    // Prepare
    const b = new GlobalBroadcaster(parseDownlink('delta:topk:0.1+ternary'), 1);
    for (let v = 0; v <= 3; v++) b.release(model(v), v);
    const desk = new CatchUpDesk(b);
    // Execute: pi-01 asks for its chain, asks again (a replay), then for the full copy, then again.
    const first = desk.answer('pi-01', sync('pi-01', 1));
    const replay = desk.answer('pi-01', sync('pi-01', 1));
    const full = desk.answer('pi-01', sync('pi-01', -1));
    const again = desk.answer('pi-01', sync('pi-01', -1));
    const other = desk.answer('pi-02', sync('pi-02', 2));
    const sent = desk.take();
    // Assert
    expect([first?.kind, replay, full?.kind, again, other?.kind]).toEqual(['steps', null, 'full', null, 'steps']);
    expect(sent).toEqual(new Map([['pi-01', first!.bytes + full!.bytes], ['pi-02', other!.bytes]]));
    expect(desk.take().size).toBe(0);
    // A new version: the device may ask again.
    b.release(model(4), 4);
    expect(desk.answer('pi-01', sync('pi-01', 3))?.kind).toBe('steps');
  });

  it('gives a device that claims a version from the future, or none, the full copy; a sync out of bounds never reaches it', () => {
    // Prepare
    const b = new GlobalBroadcaster(parseDownlink('delta:topk:0.1+ternary'), 1);
    for (let v = 0; v <= 2; v++) b.release(model(v), v);
    const desk = new CatchUpDesk(b);
    // Execute and assert: a version the aggregator never made gets the current full copy, said to start from v2.
    const future = desk.answer('pi-01', sync('pi-01', Number.MAX_SAFE_INTEGER))!;
    expect([future.kind, decodeMessage('catchUp', future.message).baseVersion]).toEqual(['full', 2]);
    // The wire refuses what a desk must never see: a version below -1, a NaN, round 0, an id no device can have.
    for (const body of [{ have: -2 }, { have: Number.NaN }, { round: 0 }, { deviceId: 'not/an/id' }]) {
      const bytes = encodeMessage({ v: 1, type: 'sync', deviceId: 'pi-01', round: 1, have: 0, ...body } as never);
      expect(() => decodeMessage('sync', bytes)).toThrow(DecodeError);
    }
  });
});

