export * from './commands.js';
export * from './config.js';
export * from './executors/index.js';
export * from './healer.js';
export * from './lifecycle-client.js';
export * from './service.js';
export * from './start.js';
