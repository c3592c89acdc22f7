import { flag } from './table.js';

/**
 * The codecs bench's federated task, each setting overridable by its flag: 20 devices,
 * McMahan's pathological non-IID split (shards:2), the 2NN, E=1, B=20, lr 0.1, seed 1, 80
 * rounds. bench/downlink runs its downlinks on the same task, so the two tables compare.
 */
export function codecsTask(): Record<string, string> {
  return {
    devices: flag('devices', '20'),
    rounds: flag('rounds', '80'),
    partition: flag('partition', 'shards:2'),
    model: flag('model', '2nn'),
    lr: flag('lr', '0.1'),
    'batch-size': flag('batch-size', '20'),
    epochs: flag('epochs', '1'),
    seed: flag('seed', '1'),
    // The tables made with this task (codecs, influence) predate the step downlink: they send the float32 global.
    downlink: flag('downlink', 'f32'),
  };
}
