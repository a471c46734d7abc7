export {
  type DependencyMonitor,
  type DependencyMonitorOptions,
  monitorBus,
  monitorDatabase,
  monitorDependency,
} from './dependency-monitor.js';
export { type DrainableBus, ownBus, ownStore } from './owned-resources.js';
export { Readiness, type ReadinessCheck, type ReadinessReport, type ReadinessState } from './readiness.js';
export { type MainSettings, type RunMainOptions, runMain } from './run-main.js';
export {
  childContext,
  type ListenAddress,
  type RunningService,
  type RunServiceOptions,
  runService,
  type ServiceContext,
} from './run-service.js';
export { type ServeAppOptions, serveApp } from './serve-app.js';
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
