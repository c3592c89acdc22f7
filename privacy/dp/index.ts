export { logAdd, logSub, logErfc, erfc } from './logMath.js';
export { DEFAULT_ORDERS, rdpOfStep, computeRdp, rdpToEpsilon, epsilon, privacySpent, noiseMultiplierFor, type PrivacySpent } from './rdp.js';
export { RdpAccountant, type AccountantEntry, type AccountantState, type RdpAccountantOptions, type SamplingScheme } from './accountant.js';
export { computeRdpWithoutReplacement, rdpOfStepWithoutReplacement, fixedSizePrivacySpent } from './rdpWithoutReplacement.js';
export { l2Norm, clipToNorm, type ClipResult } from './clipping.js';
export { secureGaussian, seededGaussian, type GaussianSource } from './gaussian.js';
export {
  AdaptiveClip,
  adjustedNoiseMultiplier,
  DEFAULT_TARGET_QUANTILE,
  DEFAULT_CLIP_LEARNING_RATE,
  DEFAULT_INITIAL_CLIP,
  COUNT_STD_PER_PARTICIPANT,
  type AdaptiveClipOptions,
  type AdaptiveClipStep,
} from './adaptiveClip.js';
export { parseDp, countStdFor, DP_SPEC_GRAMMAR, type DpSpec, type AdaptiveClipSpec } from './dpSpec.js';
export { CentralDp, type CentralDpOptions, type CentralDpState, type DpRound, type DpRoundSummary, type RoundSampling } from './centralDp.js';
export { LocalDp, localEpsilon, localPrivacySpent } from './localDp.js';
