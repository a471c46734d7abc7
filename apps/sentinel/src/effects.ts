import { createHash } from 'node:crypto';
import {
  type Bus,
  type EventData,
  FLEET_AGENT_ID,
  type KvBucket,
  type PublishEventOptions,
  type QuarantineEntry,
  type SentinelEvent,
} from '@immune/bus';
import {
  HEALING_ACTIONS,
  type HealingActionType,
  type LifecycleTransition,
  type TriageDecision,
} from '@immune/core';
import type { Repositories } from '@immune/store';
import { MicroBatcher } from './micro-batcher.js';

export interface EffectOptions {
  /** The release was already done by whoever removed the quarantine entry. */
  skipRelease?: boolean;
}

export interface EffectsDeps {
  bus: Bus;
  quarantine: KvBucket<QuarantineEntry>;
  repos: Pick<Repositories, 'lifecycleEvents' | 'infections'>;
  /** Names this instance in ids of events only it publishes (fleet verdicts are per instance). */
  instanceId: string;
}

/**
 * Carries decisions out: quarantine bucket, `lifecycle_events` and `infections` rows, and events. Every effect is
 * idempotent (KV puts of the same value, `on conflict do nothing` rows, events with ids derived from what
 * they describe, which JetStream dedupes), so running a list again after a crash or a failed attempt is safe.
 */
export class Effects {
  private readonly lifecycleRows: MicroBatcher<LifecycleTransition>;

  constructor(private readonly deps: EffectsDeps) {
    this.lifecycleRows = new MicroBatcher((transitions) =>
      deps.repos.lifecycleEvents.appendMany(transitions),
    );
  }

  /** Whether a decision list needs any I/O at all (most vitals decide nothing). */
  static needed(decisions: readonly TriageDecision[]): boolean {
    for (const d of decisions) if (d.kind !== 'anomalies' && d.kind !== 'duplicate') return true;
    return false;
  }

  /** Whether a decision list changes the quarantine bucket (`enforce` has work to do). */
  static enforcing(decisions: readonly TriageDecision[]): boolean {
    for (const d of decisions) if (d.kind === 'quarantine' || d.kind === 'release') return true;
    return false;
  }

  /**
   * The quarantine bucket: what stops or frees the agent at the gateway. The sentinel runs it ahead of the
   * bookkeeping of earlier decisions (rows and events take several round trips), in its own per-agent order.
   */
  async enforce(decisions: readonly TriageDecision[], options: EffectOptions = {}): Promise<void> {
    const { quarantine } = this.deps;
    for (const d of decisions) {
      if (d.kind === 'quarantine') await quarantine.put(d.order.agent_id, { ...d.order, by: 'sentinel' });
      else if (d.kind === 'release' && !options.skipRelease) await quarantine.delete(d.agent_id);
    }
  }

  /** Rows and events. */
  async record(decisions: readonly TriageDecision[], options: EffectOptions = {}): Promise<void> {
    const { repos } = this.deps;
    // The lifecycle seq of the transition a probation verdict came with: one agent and infection may go
    // through probation several times (a relapse, the next cure), and each verdict needs its own event id.
    let seq = 0;
    for (const d of decisions) {
      switch (d.kind) {
        case 'transition': {
          const t = d.transition;
          seq = t.seq;
          await this.lifecycleRows.add(t);
          await this.publish('lifecycle.changed', t.agent_id, t, `lifecycle:${t.agent_id}:${t.seq}`, t.ts);
          break;
        }
        case 'infection':
          await repos.infections.record(d.report);
          await this.publish(
            'infection.detected',
            d.report.agent_id,
            d.report,
            `infection:${d.report.id}`,
            d.report.ts,
          );
          break;
        case 'quarantine': {
          const entry: QuarantineEntry = { ...d.order, by: 'sentinel' };
          await this.publish(
            'quarantine.applied',
            entry.agent_id,
            entry,
            `quarantine:${entry.agent_id}:${entry.state}:${entry.since}`,
            entry.since,
          );
          break;
        }
        case 'release':
          if (options.skipRelease) break;
          await this.publish(
            'quarantine.released',
            d.agent_id,
            {
              agent_id: d.agent_id,
              reason: d.reason,
              ...(d.infection_id === undefined ? {} : { infection_id: d.infection_id }),
            },
            `release:${d.agent_id}:${d.ts}`,
            d.ts,
          );
          break;
        case 'fleet': {
          const c = d.correlation;
          await this.publish(
            'fleet.correlated',
            FLEET_AGENT_ID,
            {
              anomaly_type: c.anomaly_type,
              agents: c.agents,
              fraction: Math.min(1, c.fraction),
              fleet_size: c.fleet_size,
              window_ms: c.window_ms,
            },
            `fleet:${c.anomaly_type}:${this.deps.instanceId}:${c.ts}`,
            c.ts,
          );
          break;
        }
        case 'probation': {
          // probation.* events name the cure; without a known infection and action there is nothing to report.
          if (d.infection_id === undefined || !isAction(d.action)) break;
          const id = `probation:${d.agent_id}:${d.infection_id}:${d.action}:${seq}:${d.passed}`;
          if (d.passed) {
            await this.publish(
              'probation.passed',
              d.agent_id,
              {
                infection_id: d.infection_id,
                agent_id: d.agent_id,
                action: d.action,
                clean_vitals: d.clean_vitals,
              },
              id,
            );
          } else {
            await this.publish(
              'probation.failed',
              d.agent_id,
              {
                infection_id: d.infection_id,
                agent_id: d.agent_id,
                action: d.action,
                anomalies: [...d.anomalies],
              },
              id,
            );
          }
          break;
        }
        default:
          break;
      }
    }
  }

  private async publish<T extends SentinelEvent>(
    type: T,
    agentId: string,
    data: EventData<T>,
    key: string,
    ts?: number,
  ): Promise<void> {
    const options: PublishEventOptions = { id: stableId(key), ...(ts === undefined ? {} : { ts }) };
    await this.deps.bus.publishEvent(type, agentId, data, options);
  }
}

/** Event ids are at most 128 characters and agent ids may be longer: hash what the event is about. */
export function stableId(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

function isAction(value: string | undefined): value is HealingActionType {
  return value !== undefined && (HEALING_ACTIONS as readonly string[]).includes(value);
}
