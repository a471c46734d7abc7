export { type GatewayConfig, GatewayEnv } from './config.js';
export { type GatewayServiceDeps, startGateway } from './service.js';
