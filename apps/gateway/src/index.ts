export { type GatewayAppOptions, gatewayApp } from './app.js';
export { type GatewayConfig, GatewayEnv } from './config.js';
export type { Gateway } from './gateway.js';
export { type GatewayServiceDeps, type RunningGateway, startGateway } from './service.js';
