import type { Db } from '../database.js';
import { AgentRepository } from './agents.js';
import { ApiKeyRepository } from './api-keys.js';
import { ApprovalRepository } from './approvals.js';
import { BaselineRepository } from './baselines.js';
import { FeedbackRepository } from './feedback.js';
import { HealingActionRepository } from './healing-actions.js';
import { ImmuneMemoryRepository } from './immune-memory.js';
import { InfectionRepository } from './infections.js';
import { LifecycleEventRepository } from './lifecycle-events.js';
import { SentinelAgentRepository } from './sentinel-agents.js';
import { SigmaBucketRepository } from './sigma-buckets.js';
import { VitalRepository } from './vitals.js';

export interface Repositories {
  agents: AgentRepository;
  apiKeys: ApiKeyRepository;
  vitals: VitalRepository;
  baselines: BaselineRepository;
  sentinelAgents: SentinelAgentRepository;
  sigmaBuckets: SigmaBucketRepository;
  infections: InfectionRepository;
  lifecycleEvents: LifecycleEventRepository;
  approvals: ApprovalRepository;
  healingActions: HealingActionRepository;
  immuneMemory: ImmuneMemoryRepository;
  feedback: FeedbackRepository;
}

/**
 * Every repository on one Kysely instance. Pass a transaction to make several writes atomic:
 * `db.transaction().execute((trx) => createRepositories(trx).approvals.decide(...))`.
 */
export function createRepositories(db: Db): Repositories {
  return {
    agents: new AgentRepository(db),
    apiKeys: new ApiKeyRepository(db),
    vitals: new VitalRepository(db),
    baselines: new BaselineRepository(db),
    sentinelAgents: new SentinelAgentRepository(db),
    sigmaBuckets: new SigmaBucketRepository(db),
    infections: new InfectionRepository(db),
    lifecycleEvents: new LifecycleEventRepository(db),
    approvals: new ApprovalRepository(db),
    healingActions: new HealingActionRepository(db),
    immuneMemory: new ImmuneMemoryRepository(db),
    feedback: new FeedbackRepository(db),
  };
}
