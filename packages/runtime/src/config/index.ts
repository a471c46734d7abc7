export { ConfigError, type ConfigIssue } from './config-error.js';
export {
  HttpEnv,
  LOG_FORMATS,
  LOG_LEVELS,
  LogEnv,
  portEnv,
  ShutdownEnv,
  serviceEnv,
  TelemetryEnv,
} from './env-fragments.js';
export { type Config, describeConfig, type EnvSource, loadConfig } from './load-config.js';
export { type LoadConfigOrExitOptions, loadConfigOrExit } from './load-config-or-exit.js';
export { isSecret, Secret } from './secret.js';
