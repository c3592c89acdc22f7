/**
 * Bounds every fedmq message keeps, read by both sides (protocol/wire.ts for messages, protocol/task.ts
 * for a task's own training settings): the aggregator's options must stay inside them, and a device
 * refuses a message outside them. They are sanity limits against a hostile or broken publisher,
 * not tuning advice.
 */

/** Largest message any decoder accepts unless told otherwise: a CNN global in f32 is 6.7 MB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Most participants a round message may list; each must be a valid device id. */
export const MAX_PARTICIPANTS = 100_000;

/** Most local epochs a round may ask (McMahan et al. use E <= 20). */
export const MAX_EPOCHS = 1_000;
/**
 * Largest local batch a round may ask. A device trains on min(B, its example count); a CNN batch
 * of 1,024 MNIST images needs about half a GB of activations, about what a small device can give.
 */
export const MAX_BATCH_SIZE = 1_024;
/** Largest learning rate a round may ask; beyond it SGD only diverges. */
export const MAX_LR = 10;
/** Largest FedProx proximal coefficient mu a round may ask (Li et al. 2020 use at most 1). */
export const MAX_MU = 10;
/**
 * Longest a round may last, from `issuedAt` to `deadline` (and, on a device, from now to the
 * deadline): one day. Also keeps every deadline timer far below Node's 2^31 - 1 ms limit.
 */
export const MAX_ROUND_MS = 24 * 60 * 60 * 1000;
/** Most parameters a task may announce: the largest model whose float32 global fits in one message (8,388,608). */
export const MAX_PARAM_COUNT = Math.floor(DEFAULT_MAX_MESSAGE_BYTES / 4);
