export { type DrainableBus, ownBus, ownStore } from './owned-resources.js';
export { Readiness, type ReadinessCheck, type ReadinessReport, type ReadinessState } from './readiness.js';
export {
  type ListenAddress,
  type RunningService,
  type RunServiceOptions,
  runService,
  type ServiceContext,
} from './run-service.js';
export {
  DEFAULT_PHASE_TIMEOUTS_MS,
  PHASE_DONE_EVENTS,
  SHUTDOWN_PHASES,
  type ShutdownPhase,
} from './shutdown-phases.js';
export {
  type PhaseOutcome,
  type PhaseReport,
  type ShutdownHook,
  type ShutdownReport,
  ShutdownSequence,
  type ShutdownSequenceOptions,
} from './shutdown-sequence.js';
