// @immune/sdk: report vitals to Immune from a Node agent, and subscribe to Immune's events on NATS.
export {
  EVENT_TYPES,
  type EventData,
  type EventEnvelope,
  type EventType,
  type Subscription,
} from '@immune/bus';
export type { Vital, VitalKind } from '@immune/core';
export {
  type AgentInfo,
  ImmuneReporter,
  type RegisteredAgent,
  ReporterError,
  type ReporterOptions,
  type ReporterStats,
  type VitalReport,
} from './reporter.js';
export {
  type EventHandler,
  ImmuneSubscriber,
  type SubscribeOptions,
  type SubscriberOptions,
} from './subscriber.js';
