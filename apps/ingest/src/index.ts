export { AgentDirectory } from './agent-directory.js';
export { ApiKeyVerifier, announceCreatedKey, bootstrapApiKeys, type KeyBootstrap } from './api-keys.js';
export { type IngestAppOptions, ingestApp, type KeyVerifier, RegisterBody } from './app.js';
export { type IngestConfig, IngestEnv } from './config.js';
export { type IngestLimits, type ParsedBody, parseIngestBody, ReportedVital } from './ingest-body.js';
export { Recorder, type RecorderOptions } from './recorder.js';
export { type IngestServiceDeps, type RunningIngest, startIngest } from './service.js';
