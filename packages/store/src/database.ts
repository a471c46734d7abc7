import type {
  AgentTriageSnapshot,
  AnomalyType,
  BaselineMetric,
  DetectorSnapshot,
  Diagnosis,
  DiagnosisType,
  HealingActionType,
  HealingOutcome,
  HealingStatus,
  InfectionReport,
  LifecycleState,
  LifecycleTrigger,
  Severity,
  VitalKind,
  VitalSource,
} from '@immune/core';
import type { ColumnType, Kysely } from 'kysely';

/** timestamptz: read back as a Date; repositories convert to and from epoch milliseconds. */
export type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
/** timestamptz with a database default (now()). */
type DefaultedTimestamp = ColumnType<Date, Date | undefined, Date>;

/**
 * jsonb: the pg driver parses it on the way out, but would encode a JS array as a Postgres array literal on
 * the way in, so values always go in as JSON text (see `toJson`).
 */
export type Json<T> = ColumnType<T, string, string>;
type DefaultedJson<T> = ColumnType<T, string | undefined, string>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;

/** Where an infection stands in the healer's workflow. */
export const INFECTION_STATUSES = [
  'detected',
  'diagnosed',
  'awaiting_approval',
  'healing',
  'resolved',
  'rejected',
  'exhausted',
  'dismissed',
] as const;
export type InfectionStatus = (typeof INFECTION_STATUSES)[number];

/** An operator's decision on a severe infection; `cancelled` when the case closed before anyone decided. */
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'cancelled'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export interface AgentsTable {
  id: string;
  name: string | null;
  model: string | null;
  tags: DefaultedJson<string[]>;
  mcp_servers: DefaultedJson<string[]>;
  control_url: string | null;
  pid: number | null;
  state: ColumnType<LifecycleState, LifecycleState | undefined, LifecycleState>;
  first_seen: Timestamp;
  last_seen: Timestamp;
  metadata: DefaultedJson<Record<string, unknown>>;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  /** SHA-256 hex of the key. The key itself is shown once at creation and never stored. */
  key_hash: string;
  /** The first characters of the key, so an operator can tell keys apart in a list. */
  prefix: string;
  created_at: DefaultedTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface VitalsTable {
  id: string;
  agent_id: string;
  ts: Timestamp;
  source: VitalSource;
  kind: VitalKind;
  model: string | null;
  provider: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  tool_calls: number;
  retries: number;
  cost: number;
  success: boolean;
  error_type: string | null;
  prompt_hash: string | null;
  request_hash: string | null;
  tool_name: string | null;
  mcp_server: string | null;
  trace_id: string | null;
}

export interface BaselinesTable {
  agent_id: string;
  kind: VitalKind;
  snapshot: Json<DetectorSnapshot>;
  updated_at: Timestamp;
}

/** The sentinel's triage state per agent, baselines included (see `AgentTriageSnapshot`). */
export interface SentinelAgentsTable {
  agent_id: string;
  partition: number;
  state: Json<AgentTriageSnapshot>;
  updated_at: Timestamp;
}

/**
 * The σ history (see `SigmaBucketRepository`): worst σ per agent, vital kind, baseline metric and bucket, with
 * the band as of the bucket's latest judged vital (`last_ts`).
 */
export interface SigmaBucketsTable {
  agent_id: string;
  kind: VitalKind;
  metric: BaselineMetric;
  bucket_start: Timestamp;
  worst_sigma: number;
  samples: number;
  typical: number;
  low: number;
  high: number;
  threshold: number;
  last_ts: Timestamp;
}

export interface InfectionsTable {
  id: string;
  agent_id: string;
  ts: Timestamp;
  severity: Severity;
  max_deviation: number;
  fleet_correlated: boolean;
  report: Json<InfectionReport>;
  diagnosis: NullableJson<Diagnosis>;
  status: ColumnType<InfectionStatus, InfectionStatus | undefined, InfectionStatus>;
}

export interface LifecycleEventsTable {
  agent_id: string;
  seq: number;
  from_state: LifecycleState;
  to_state: LifecycleState;
  trigger: LifecycleTrigger;
  reason: string | null;
  ts: Timestamp;
}

export interface ApprovalsTable {
  id: string;
  infection_id: string;
  agent_id: string;
  status: ColumnType<ApprovalStatus, ApprovalStatus | undefined, ApprovalStatus>;
  requested_at: Timestamp;
  decided_at: NullableTimestamp;
  decided_by: string | null;
  note: string | null;
}

export interface HealingActionsTable {
  id: string;
  infection_id: string;
  agent_id: string;
  diagnosis: DiagnosisType;
  action: HealingActionType;
  step: number;
  status: HealingStatus;
  detail: string | null;
  ts: Timestamp;
  updated_at: Timestamp;
}

export interface ImmuneMemoryTable {
  id: string;
  agent_id: string;
  diagnosis: DiagnosisType;
  action: HealingActionType;
  outcome: HealingOutcome;
  ts: Timestamp;
}

export interface FeedbackTable {
  id: string;
  infection_id: string;
  agent_id: string;
  predicted: DiagnosisType;
  true_cause: DiagnosisType;
  anomaly_types: Json<AnomalyType[]>;
  operator: string;
  ts: Timestamp;
}

/** Every table, keyed by its SQL name: the type parameter of `Kysely<Database>`. */
export interface Database {
  agents: AgentsTable;
  api_keys: ApiKeysTable;
  vitals: VitalsTable;
  baselines: BaselinesTable;
  sentinel_agents: SentinelAgentsTable;
  sigma_buckets: SigmaBucketsTable;
  infections: InfectionsTable;
  lifecycle_events: LifecycleEventsTable;
  approvals: ApprovalsTable;
  healing_actions: HealingActionsTable;
  immune_memory: ImmuneMemoryTable;
  feedback: FeedbackTable;
}

/** What repositories run on: the store's Kysely instance or a transaction of it. */
export type Db = Kysely<Database>;
