// Entry point `@immune/runtime/testing`: helpers for services' tests. Not for production code.
export { type AbuseCase, type AbuseReport, type AbuseTarget, abuseCases, runAbuse } from './testing/abuse.js';
export { type CapturedLogs, captureLogs } from './testing/capture-logs.js';
export {
  answerProblems,
  type HostileBody,
  hostileBodies,
  hostileValue,
  wrongJson,
} from './testing/hostile-bodies.js';
export {
  abuseOperationalRoute,
  fuzzOperationalSurface,
  OPERATIONAL_FUZZ_LIMITS,
  OPERATIONAL_ROUTES,
  type OperationalRequest,
  operationalRequests,
  probeReady,
} from './testing/operational-surface.js';
export {
  type RawExchange,
  type RawResponse,
  type RawStep,
  type RawTarget,
  rawExchange,
} from './testing/raw-http.js';
