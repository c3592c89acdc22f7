/**
 * A whole SecAgg+ round with every device and the server in one process, the messages handed
 * over directly: the reference sequence for a transport to follow, and what the tests and
 * `bench/secagg` run. Times each party's work separately in process CPU time (user + system,
 * `process.cpuUsage`), which a busy machine inflates far less than wall time.
 */
import { SecAggDevice } from './device.js';
import type { SecAggDeviceMessage, SecAggServerMessage } from './messages.js';
import type { SecAggPrg } from './prg.js';
import type { SecAggThreatModel } from './params.js';
import type { RandomInt } from './graph.js';
import { SecAggServer, type SecAggResult } from './server.js';

export interface SecAggRoundRunOptions {
  readonly fleet?: string;
  readonly round?: number;
  readonly ids: readonly string[];
  readonly vectorLength: number;
  /** Each device's quantized input, asked for when that device masks. */
  readonly input: (id: string) => Uint32Array;
  /** Devices that send their keys, then nothing more. */
  readonly dropBeforeShares?: ReadonlySet<string>;
  /** Devices that share their secrets, then never deliver a masked input. */
  readonly dropBeforeMasked?: ReadonlySet<string>;
  /** Devices that deliver a masked input, then never answer the unmask request. */
  readonly dropBeforeUnmask?: ReadonlySet<string>;
  readonly threat?: Partial<SecAggThreatModel>;
  readonly prg?: SecAggPrg;
  readonly random?: RandomInt;
  /**
   * Carries every message from its sender to its receiver: what it returns is delivered (e.g. a
   * CBOR round trip, counting the bytes). @default the message itself
   */
  readonly carry?: <M extends SecAggDeviceMessage | SecAggServerMessage>(msg: M) => M;
}

export interface SecAggRoundRun {
  readonly result: SecAggResult;
  /** CPU milliseconds each device spent in the protocol (keys, shares, masking, unmasking). */
  readonly deviceMs: ReadonlyMap<string, number>;
  /** CPU milliseconds the server spent (setup, routing, summing, unmasking). */
  readonly serverMs: number;
}

export async function runSecAggRound(o: SecAggRoundRunOptions): Promise<SecAggRoundRun> {
  const fleet = o.fleet ?? 'default';
  const round = o.round ?? 1;
  const carry = o.carry ?? (<M>(m: M): M => m);
  const deviceMs = new Map<string, number>(o.ids.map((id) => [id, 0]));
  let serverMs = 0;
  const onDevice = async <R>(id: string, f: () => R | Promise<R>): Promise<R> => {
    const start = process.cpuUsage();
    const r = await f();
    deviceMs.set(id, deviceMs.get(id)! + cpuMsSince(start));
    return r;
  };
  const onServer = async <R>(f: () => R | Promise<R>): Promise<R> => {
    const start = process.cpuUsage();
    const r = await f();
    serverMs += cpuMsSince(start);
    return r;
  };

  const server = new SecAggServer({ fleet, round, vectorLength: o.vectorLength, threat: o.threat, prg: o.prg, random: o.random });
  const devices = new Map<string, SecAggDevice>();
  for (const id of o.ids) {
    const keys = await onDevice(id, () => {
      const d = new SecAggDevice({ fleet, round, id });
      devices.set(id, d);
      return d.advertise();
    });
    const sent = carry(keys);
    await onServer(() => server.receiveKeys(sent));
  }
  const setups = await onServer(() => server.setup());
  for (const [id, setup] of setups) {
    if (o.dropBeforeShares?.has(id)) continue;
    const got = carry(setup);
    const shares = carry(await onDevice(id, () => devices.get(id)!.share(got)));
    await onServer(() => server.receiveShares(shares));
  }
  const deliveries = await onServer(() => server.deliverShares());
  for (const [id, delivery] of deliveries) {
    if (o.dropBeforeMasked?.has(id)) continue;
    const got = carry(delivery);
    const input = o.input(id);
    const masked = carry(await onDevice(id, () => devices.get(id)!.mask(got, input)));
    await onServer(() => server.receiveMasked(masked));
  }
  const requests = await onServer(() => server.requestUnmask());
  for (const [id, request] of requests) {
    if (o.dropBeforeUnmask?.has(id)) continue;
    const got = carry(request);
    const response = carry(await onDevice(id, () => devices.get(id)!.unmask(got)));
    await onServer(() => server.receiveUnmask(response));
  }
  const result = await onServer(() => server.finish());
  return { result, deviceMs, serverMs };
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}
