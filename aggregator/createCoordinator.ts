import { BufferedCoordinator } from './buffered.js';
import { Coordinator, type CoordinatorDeps } from './coordinator.js';
import { parseCoordinatorOptions, type CoordinatorSettings } from './options.js';

/** The coordinator for `options.mode`: synchronous rounds, or FedBuff-style async. */
export function createCoordinator(settings: CoordinatorSettings, deps: CoordinatorDeps): Coordinator {
  const options = parseCoordinatorOptions(settings);
  return options.mode === 'async' ? new BufferedCoordinator(options, deps) : new Coordinator(options, deps);
}
