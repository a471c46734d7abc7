export type {
  Bus,
  BusStatus,
  CommandContext,
  ConsumerLag,
  ConsumeVitalsOptions,
  DeferredAck,
  KvBucket,
  KvChange,
  KvWatch,
  PublishEventOptions,
  RequestOptions,
  SubscribeEventsOptions,
  Subscription,
  VitalDelivery,
} from './bus.js';
export { OPERATOR_TOKEN_HEADER } from './bus.js';
export { type BusConfig, BusEnv } from './bus-env.js';
export { type CommandFailure, commandFailure } from './command-failure.js';
export * from './commands-catalog.js';
export { createEmbeddedBus, type EmbeddedBusOptions } from './embedded-bus.js';
export * from './errors.js';
export * from './gateway-config.js';
export * from './mcp-pending.js';
export * from './messages.js';
export { connectNatsBus, type NatsBusOptions } from './nats-bus.js';
export { type NatsAuthMethod, type NatsSecurity, natsSecurity } from './nats-security.js';
export { type OpenBusOptions, openBus, openBusFromEnv } from './open-bus.js';
export { HEALER_EVENTS, type HealerEvent, SENTINEL_EVENTS, type SentinelEvent } from './service-access.js';
export * from './subjects.js';
export * from './vital-publisher.js';
