/**
 * Node-side file storage shared by the roles that keep state on disk: the device agent
 * (error-feedback residuals) and the aggregator (checkpoints).
 */
export { writeFileAtomic } from './atomicWrite.js';
