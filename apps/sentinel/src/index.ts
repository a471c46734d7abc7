export { parsePartitions, type SentinelConfig, SentinelEnv } from './config.js';
export { Effects, stableId } from './effects.js';
export { Sentinel, type SentinelDeps, triageConfigFrom } from './sentinel.js';
export { type SentinelStartDeps, startSentinel } from './start.js';
