export { DeviceAgent, type AgentEvents, type AgentOptions, type SkipReason } from './agent.js';
export { connectDevice, withBackoff, type DeviceConnectOptions } from './connect.js';
export { LocalTrainer, type Trainer, type TrainJob, type TrainOutcome } from './trainer.js';
