export { type McpProxyAppOptions, mcpProxyApp } from './app.js';
export { type McpProxyConfig, McpProxyEnv, McpUpstream } from './config.js';
export { createMcpProxy, type McpProxy } from './mcp-proxy.js';
export { type McpProxyServiceDeps, type RunningMcpProxy, startMcpProxy } from './service.js';
