export { Simulation, simulate, deviceId, type SimulationEvents } from './simulation.js';
export { parseSimulationOptions, simulationSpecs, DEFAULT_DEVICES, DEFAULT_PARTITION, type SimulationOptions, type SimulationSettings } from './options.js';
export { buildReport, reportRound, type ReportRound, type RunReport } from './report.js';
export { chartPath, runChartHtml, writeRunChart } from './chart.js';
export { ATTACK_KINDS, ATTACK_SPECS, DEFAULT_ATTACK_PARAMS, attackTrainer, chooseAttackers, parseAttack, type Attack, type AttackKind } from './attacks.js';
export { BUILTIN_PROFILES, assignProfiles, dropsOut, parseProfiles, simulatedFinishMs, timedTrainer, transferMs, type DeviceProfile, type ProfileMix } from './profiles.js';
export { LOCAL_PROFILE, SimClock, type SimulatedRound } from './simClock.js';
export { syncTiming, asyncTiming, type FleetTiming } from './fleetTiming.js';
export { TrainerPool, TrainerJobError, TrainerPoolDisposedError, TrainerWorkerExitError, DEFAULT_POOL_BACKEND, defaultTrainerPoolOptions, parseTrainerPoolOptions, trainerWorkerUrl, type TrainerPoolOptions } from './trainerPool.js';
