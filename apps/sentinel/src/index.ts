export { sentinelApp } from './app.js';
export {
  ordinalPartitions,
  ownedPartitions,
  parsePartitions,
  type SentinelConfig,
  SentinelEnv,
} from './config.js';
export { Effects, stableId } from './effects.js';
export { Sentinel, type SentinelDeps, triageConfigFrom } from './sentinel.js';
export { type RunningSentinel, type SentinelServiceDeps, startSentinel } from './service.js';
