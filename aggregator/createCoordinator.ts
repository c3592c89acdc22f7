import { BufferedCoordinator } from './buffered.js';
import { Coordinator, type CoordinatorDeps } from './coordinator.js';
import { parseCoordinatorOptions, type CoordinatorOptions } from './options.js';

/** The coordinator for `options.mode`: synchronous rounds, or FedBuff-style async. */
export function createCoordinator(options: Partial<CoordinatorOptions>, deps: CoordinatorDeps): Coordinator {
  return parseCoordinatorOptions(options).mode === 'async' ? new BufferedCoordinator(options, deps) : new Coordinator(options, deps);
}
