import {
  DEFAULT_FLEET, MAX_BATCH_SIZE, MAX_BUFFER, MAX_EPOCHS, MAX_LR, MAX_MU, MAX_ROUND_MS, MAX_SPEC_LENGTH, OptionsError, assertValidId, parseCodec, parseDownlink,
  type Codec, type Downlink, type TrainConfig,
} from '../protocol/index.js';
import { BUILTIN_TASK_NAMES, builtinTask, isBuiltinTask, isBuiltinTaskName, type BuiltinTaskName, type Task } from '../protocol/index.js';
import { parseDp, type DpSpec } from '../privacy/index.js';
import { DEFAULT_STRATEGY, parseStrategy, type Strategy } from './strategies/index.js';
import { dpStrategyRefusal } from './strategies/dpFedAvg.js';
import { resolveSecAgg, secaggRefusal, type SecAggOptions, type SecAggSetting } from './secureOptions.js';

export const DEFAULT_ROUNDS = 5;
/** Fewest participants of a `--secagg` round: the smallest fleet SecAgg+'s parameters exist for (chooseGraphParams). */
export const MIN_SECAGG_PARTICIPANTS = 4;
export const DEFAULT_FRACTION = 1;
export const DEFAULT_EPOCHS = 1;
export const DEFAULT_BATCH_SIZE = 20;
export const DEFAULT_LR = 0.05;
/**
 * Communication both ways (docs/benchmarks.md, "Communication both ways"): dense unbiased
 * ternary updates (TernGrad), deflated, about 21 KB for the 2NN's 797 KB; no error feedback,
 * so a device that trains rarely carries no stale residual.
 */
export const DEFAULT_CODEC = 'ternary+deflate';
/**
 * Each new global goes out as a step: the top 2% of the gap between the aggregator's model and
 * the fleet's, ternary and deflated, with server-side error feedback; devices that missed
 * versions catch up by the chain of steps (or the full copy when that is smaller).
 */
export const DEFAULT_DOWNLINK = 'delta:topk:0.02+ternary+deflate+ef';
export const DEFAULT_MODEL: BuiltinTaskName = 'mlp';
/** Where a global is evaluated: on a file the aggregator holds, and/or on the devices' held-out data. */
export const EVALUATIONS = ['central', 'federated'] as const;
export type Evaluation = (typeof EVALUATIONS)[number];
export const DEFAULT_ROUND_TIMEOUT_MS = 120_000;
export const DEFAULT_WAIT_FOR_DEVICES_MS = 300_000;
export const DEFAULT_BUFFER = 10;
export const MODES = ['sync', 'async'] as const;
export const INFLUENCE_MODES = ['adaptive', 'off'] as const;
export type Influence = (typeof INFLUENCE_MODES)[number];
export const DEFAULT_INFLUENCE: Influence = 'adaptive';
export type Mode = (typeof MODES)[number];

/** How the aggregator runs the federation. */
export interface CoordinatorOptions extends TrainConfig {
  /** Fleet id, the third topic level. @default 'default' */
  fleet: string;
  /**
   * What the fleet learns (protocol/task.ts): given as a task, or as a built-in's name
   * (`model: 'mlp' | '2nn' | 'cnn'`). @default builtinTask('mlp')
   */
  task: Task;
  /**
   * Where each new global is evaluated. `central`: on the aggregator's own data (MNIST's test
   * set for a built-in task, an evaluation file otherwise). `federated`: an `evaluate` round
   * asks the online devices to evaluate it on their held-out data (sync mode only).
   * @default ['central'] for a built-in task, ['federated'] for a user's task
   */
  evaluate: Evaluation[];
  /**
   * `sync`: rounds, each waiting for its participants (or the deadline). `async`: FedBuff
   * (Nguyen et al. 2022): devices train all the time, each update is discounted by its
   * staleness and every `buffer` updates make a new global. @default 'sync'
   */
  mode: Mode;
  /** Async mode: updates per new global (FedBuff's K). @default 10 */
  buffer: number;
  /** Rounds to run (the most, with `targetAccuracy`); in async mode, new globals. @default 5 */
  rounds: number;
  /** Stop after the first round whose test accuracy reaches this; none by default. */
  targetAccuracy: number | undefined;
  /** Share of online devices chosen each round (McMahan's C). @default 1 */
  fraction: number;
  /** Fewest devices chosen in a round. @default 1 */
  minParticipants: number;
  /** Choose this many times the wanted participants, to make up for dropouts (at least 1). @default 1 */
  overselect: number;
  /** Fewest accepted updates for a round to change the global; fewer keeps it. @default 1 */
  quorum: number;
  /** Devices that must be online before round 1 starts. @default minParticipants */
  minDevices: number;
  /** How long to wait for `minDevices`, then start with whoever is online (at least minParticipants). @default 300000 */
  waitForDevicesMs: number;
  /** Time from a round's announcement to its deadline. @default 120000 */
  roundTimeoutMs: number;
  /** Update codec every device must use (`codec.spec` goes on the wire). @default topk:0.01+int8+ef */
  codec: Codec;
  /** How the global travels to devices: f32, f16 or delta:SPEC. @default f32 */
  downlink: Downlink;
  /**
   * Aggregation strategy, e.g. fedavg, median, trimmed-mean:0.2, normbound:5+fedavg (its
   * `name` is its spec). It keeps server state (momentum, moments): one per run. @default fedavg
   */
  strategy: Strategy;
  /**
   * How far one update may move the global, around any strategy. `adaptive`: each update
   * longer (L2) than 4x the median of recently accepted updates is scaled down to that
   * (aggregator/strategies/adaptiveNormBound.ts; measured cost on clean runs in
   * bench/influence.ts). `off`: updates go to the strategy as sent. Either way a device's
   * claimed example count is capped at what it declared on joining, and a non-finite result
   * is never published. @default 'adaptive'
   */
  influence: Influence;
  /**
   * Differential privacy (`--dp`, docs/privacy.md): central DP-FedAvg (the aggregator clips each
   * decoded update, sums them unweighted and noises the sum; the default influence bound is
   * replaced by the clip) or, with `local`, each device noises its own update. Epsilon goes out
   * with every round's metrics and a `budget` stops the run before a round would exceed it.
   * Sync mode only. None by default.
   */
  dp: DpSpec | undefined;
  /**
   * Secure aggregation (`--secagg`, aggregator/secureOptions.ts): every training round is a
   * SecAgg+ round; the codec is replaced by its quantization (`codec` becomes f32 on the wire,
   * unused) and the influence bound is off. Sync mode and mean-based strategies only. None by default.
   */
  secagg: SecAggOptions | undefined;
  /**
   * Saved after every round (atomically), and taken up at start when it exists: a restarted
   * aggregator goes on from the last closed round. None by default.
   */
  checkpoint: string | undefined;
  /** Seed of model initialisation, selection and devices' shuffles. @default 0 */
  seed: number;
  /** Local epochs E. @default the task's (1 for the built-in tasks) */
  epochs: number;
  /** Local batch size B. @default the task's (20 for the built-in tasks) */
  batchSize: number;
  /** Local learning rate. @default the task's optimizer's (0.05 for the built-in tasks) */
  lr: number;
}

/**
 * What a caller may pass: any option left out takes its default, and the codec, downlink and
 * strategy may be given as spec strings (`'int8'`) or as objects already resolved.
 */
export type CoordinatorSettings = Partial<Omit<CoordinatorOptions, 'codec' | 'downlink' | 'strategy' | 'dp' | 'secagg'>> & {
  /** A built-in task by name; `task` wins when both are given. */
  model?: string;
  codec?: string | Codec;
  downlink?: string | Downlink;
  strategy?: string | Strategy;
  dp?: string | DpSpec;
  /** `true`, or `{ clip }`. */
  secagg?: SecAggSetting;
};

export function defaultCoordinatorOptions(): CoordinatorOptions {
  return {
    fleet: DEFAULT_FLEET,
    task: builtinTask(DEFAULT_MODEL),
    evaluate: ['central'],
    mode: 'sync',
    buffer: DEFAULT_BUFFER,
    rounds: DEFAULT_ROUNDS,
    targetAccuracy: undefined,
    fraction: DEFAULT_FRACTION,
    minParticipants: 1,
    overselect: 1,
    quorum: 1,
    minDevices: 1,
    waitForDevicesMs: DEFAULT_WAIT_FOR_DEVICES_MS,
    roundTimeoutMs: DEFAULT_ROUND_TIMEOUT_MS,
    codec: parseCodec(DEFAULT_CODEC),
    downlink: parseDownlink(DEFAULT_DOWNLINK),
    strategy: parseStrategy(DEFAULT_STRATEGY),
    influence: DEFAULT_INFLUENCE,
    dp: undefined,
    secagg: undefined,
    checkpoint: undefined,
    seed: 0,
    epochs: DEFAULT_EPOCHS,
    batchSize: DEFAULT_BATCH_SIZE,
    lr: DEFAULT_LR,
  };
}

function integer(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new OptionsError(name, `must be an integer in [${min}, ${max}], got ${v}`);
}

/**
 * Fills defaults, resolves every spec string into its object and validates, once; throws
 * `OptionsError` naming the bad option. Objects already resolved pass through unchanged.
 */
export function parseCoordinatorOptions(partial: CoordinatorSettings = {}): CoordinatorOptions {
  const { codec, downlink, strategy, dp, secagg, model, task: givenTask, ...rest } = stripUndefined(partial);
  if (givenTask === undefined && model !== undefined && !isBuiltinTaskName(model)) {
    throw new OptionsError('model', `unknown model "${String(model)}"; known: ${BUILTIN_TASK_NAMES.join(', ')} (or give a task)`);
  }
  const task = givenTask ?? builtinTask(model !== undefined && isBuiltinTaskName(model) ? model : DEFAULT_MODEL);
  const o: CoordinatorOptions = {
    ...defaultCoordinatorOptions(),
    task,
    evaluate: isBuiltinTask(task) ? ['central'] : ['federated'],
    epochs: task.training.epochs,
    batchSize: task.training.batchSize,
    lr: task.optimizer.lr,
    ...rest,
    ...(codec !== undefined && { codec: resolveSpec(codec, parseCodec) }),
    ...(downlink !== undefined && { downlink: resolveSpec(downlink, parseDownlink) }),
    ...(strategy !== undefined && { strategy: resolveSpec(strategy, parseStrategy) }),
    ...(dp !== undefined && { dp: resolveSpec(dp, parseDp) }),
  };
  if (partial.minDevices === undefined) o.minDevices = o.minParticipants;
  assertValidId('fleet', o.fleet);
  if (!Array.isArray(o.evaluate) || o.evaluate.some((e) => !EVALUATIONS.includes(e)) || new Set(o.evaluate).size !== o.evaluate.length) {
    throw new OptionsError('evaluate', `must list ${EVALUATIONS.join(' and/or ')} at most once each, got ${String(o.evaluate)}`);
  }
  if (o.mode === 'async' && o.evaluate.includes('federated')) {
    throw new OptionsError('evaluate', 'federated evaluation runs between sync rounds; async mode evaluates centrally (--evaluate central)');
  }
  if (!MODES.includes(o.mode)) throw new OptionsError('mode', `must be ${MODES.join(' or ')}, got ${String(o.mode)}`);
  if (!INFLUENCE_MODES.includes(o.influence)) throw new OptionsError('influence', `must be ${INFLUENCE_MODES.join(' or ')}, got ${String(o.influence)}`);
  // Task and round bounds are the wire's own (protocol/wire.ts): a device refuses a message outside them.
  integer('buffer', o.buffer, 1, MAX_BUFFER);
  integer('rounds', o.rounds, 1);
  if (o.targetAccuracy !== undefined && !(o.targetAccuracy > 0 && o.targetAccuracy <= 1)) {
    throw new OptionsError('targetAccuracy', `must be in (0, 1], got ${o.targetAccuracy}`);
  }
  if (!(o.fraction > 0 && o.fraction <= 1)) throw new OptionsError('fraction', `must be in (0, 1], got ${o.fraction}`);
  integer('minParticipants', o.minParticipants, 1);
  if (!(o.overselect >= 1 && o.overselect <= 10)) throw new OptionsError('overselect', `must be a number in [1, 10], got ${o.overselect}`);
  integer('quorum', o.quorum, 1);
  integer('minDevices', o.minDevices, 1);
  // Node fires a timer longer than 2^31 - 1 ms after 1 ms.
  integer('waitForDevicesMs', o.waitForDevicesMs, 0, 2 ** 31 - 1);
  integer('roundTimeoutMs', o.roundTimeoutMs, 1, MAX_ROUND_MS);
  integer('seed', o.seed, 0, 0xffffffff);
  integer('epochs', o.epochs, 1, MAX_EPOCHS);
  integer('batchSize', o.batchSize, 1, MAX_BATCH_SIZE);
  if (!(o.lr > 0 && o.lr <= MAX_LR)) throw new OptionsError('lr', `must be a number in (0, ${MAX_LR}], got ${o.lr}`);
  for (const [name, spec] of [['codec', o.codec.spec], ['downlink', o.downlink.spec]] as const) {
    if (spec.length > MAX_SPEC_LENGTH) throw new OptionsError(name, `spec is ${spec.length} characters, more than a message carries (${MAX_SPEC_LENGTH})`);
  }
  const mu = o.strategy.proximalMu ?? 0;
  if (mu > MAX_MU) throw new OptionsError('strategy', `${o.strategy.name}: mu ${mu} is above what a round may ask (${MAX_MU})`);
  // Async: a global is made from one buffer of updates, so it can never hold more than `buffer`.
  const least = Math.max(o.quorum, o.strategy.minUpdates ?? 1);
  if (o.mode === 'async' && least > o.buffer) {
    throw new OptionsError(o.quorum >= least ? 'quorum' : 'strategy', `async mode makes each global from ${o.buffer} updates (buffer) but ${o.quorum >= least ? `quorum is ${o.quorum}` : `${o.strategy.name} needs ${least}`}: no global could be made`);
  }
  if (o.dp) {
    if (o.mode === 'async') throw new OptionsError('dp', 'async mode is not supported with DP: its globals mix updates of several versions, discounted by staleness, and the accountant has no analysis for that; use --mode sync');
    const refusal = o.dp.local ? null : dpStrategyRefusal(o.strategy.name);
    if (refusal) throw new OptionsError('dp', refusal);
  }
  o.secagg = resolveSecAgg(secagg, o.codec);
  if (o.secagg) {
    const refusal = secaggRefusal(o);
    if (refusal) throw new OptionsError('secagg', refusal);
    o.codec = parseCodec('f32');
    o.influence = 'off';
    // A SecAgg+ round that tolerates a third dropping out needs 4 devices (3 neighbours each,
    // threshold 2; privacy/secagg/params.ts finds no parameters for 3): fewer could only fail.
    o.minParticipants = Math.max(o.minParticipants, MIN_SECAGG_PARTICIPANTS);
    o.minDevices = Math.max(o.minDevices, o.minParticipants);
  }
  return o;
}

/** A spec string parsed (throwing `OptionsError` naming what is wrong), or an object already resolved. */
export function resolveSpec<T extends object>(value: string | T, parse: (spec: string) => T): T {
  return typeof value === 'string' ? parse(value) : value;
}

/** The options as plain JSON for reports and settings lines: objects back to their specs, `model` the task's name. */
export function coordinatorSpecs(o: CoordinatorOptions): Omit<CoordinatorOptions, 'codec' | 'downlink' | 'strategy' | 'dp'> & { model: string; codec: string; downlink: string; strategy: string; dp: string | undefined } {
  const { dp, ...rest } = o;
  return { ...rest, model: o.task.name, codec: o.codec.spec, downlink: o.downlink.spec, strategy: o.strategy.name, dp: dp?.spec };
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
