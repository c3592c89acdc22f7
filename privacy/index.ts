/**
 * privacy/: differential privacy (dp/) and secure aggregation (secagg/). Other folders import
 * only this file.
 */
export * from './dp/index.js';
export * from './secagg/index.js';
export * from './signing.js';
