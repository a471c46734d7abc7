export { type DashboardAppOptions, dashboardApp } from './app.js';
export { OperatorDirectory } from './auth/operators.js';
export { SessionCodec } from './auth/session-cookie.js';
export { type DashboardConfig, DashboardEnv, type Role } from './config.js';
export {
  type DashboardServiceDeps,
  type RunningDashboard,
  startDashboard,
} from './service.js';
