export {
  type CreateLoggerOptions,
  createLogger,
  type LogFormat,
  type Logger,
  type LogLevel,
  REDACTION_CENSOR,
} from './create-logger.js';
export { isSensitiveKey, redactSensitive } from './redact-paths.js';
export { type TraceFields, traceMixin } from './trace-mixin.js';
