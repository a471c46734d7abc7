export {
  Chaos,
  CYCLE_S,
  DEFAULT_SCHEDULE,
  type Fault,
  type Injection,
  type ProviderControl,
} from './chaos.js';
export { type SingleProcessConfig, SingleProcessEnv } from './config.js';
export {
  AGENT_KINDS,
  type AgentFault,
  type AgentKind,
  type CallOutcome,
  createFleet,
  DemoAgent,
} from './fleet.js';
export { type SingleProcess, type SingleProcessOptions, startSingleProcess } from './single-process.js';
export { narrate, tellStory, timeline } from './story.js';
