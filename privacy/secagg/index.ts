export { SecAggError, type SecAggErrorCode } from './errors.js';
export { SecAggDevice, type SecAggDeviceOptions } from './device.js';
export { SecAggServer, type SecAggServerOptions, type SecAggResult } from './server.js';
export {
  chooseGraphParams,
  defaultThreatModel,
  DEFAULT_CORRUPT_RATE,
  DEFAULT_DROPOUT_RATE,
  type SecAggGraphParams,
  type SecAggThreatModel,
} from './params.js';
export { hararyGraph, type RandomInt } from './graph.js';
export { PRGS as SECAGG_PRGS, type SecAggPrg } from './prg.js';
export { secaggQuantizer, quantizeForSecAgg, dequantizeSum, type SecAggQuantizer } from './quantize.js';
export { runSecAggRound, type SecAggRoundRun, type SecAggRoundRunOptions } from './inMemory.js';
export * from './messages.js';
export { secaggToWire, secaggFromWire } from './transport.js';
