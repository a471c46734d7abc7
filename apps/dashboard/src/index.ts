export { type DashboardAppOptions, dashboardApp } from './app.js';
export { OperatorDirectory } from './auth/operators.js';
export { SessionCodec } from './auth/session-cookie.js';
export { type DashboardConfig, DashboardEnv, type NamedToken, type Role } from './config.js';
export {
  announceGeneratedToken,
  type DashboardServiceDeps,
  type RunningDashboard,
  startDashboard,
} from './service.js';
