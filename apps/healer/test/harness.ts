import {
  type Bus,
  connectNatsBus,
  type EventEnvelope,
  type EventType,
  type ExternalLifecycleTrigger,
  SENTINEL_LIFECYCLE,
  type Subscription,
} from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import {
  type AgentLifecycle,
  type Anomaly,
  buildInfectionReport,
  IllegalTransitionError,
  type InfectionReport,
  type LifecycleState,
  transition,
} from '@immune/core';
import {
  createLogger,
  hashOperatorToken,
  loadConfig,
  loadOperatorTokens,
  mintOperatorToken,
  type OperatorRole,
  operatorTokenLine,
} from '@immune/runtime';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { serveCommands } from '../src/commands.js';
import { HealerEnv } from '../src/config.js';
import { createHealer } from '../src/create-healer.js';
import type { Enforcer, HealingExecutor } from '../src/executors/index.js';
import type { Healer } from '../src/healer.js';

/** The operators the healer under test knows: tokens minted per run, configured as hashes only. */
const PEOPLE: Record<string, OperatorRole> = {
  alice: 'operator',
  bob: 'operator',
  carol: 'operator',
  victor: 'viewer',
};
export const OPERATOR_TOKENS: Record<string, string> = Object.fromEntries(
  Object.keys(PEOPLE).map((name) => [name, mintOperatorToken()]),
);
export const OPERATOR_TOKEN_LINES = Object.entries(PEOPLE)
  .map(([name, role]) => operatorTokenLine({ name, role, hash: hashOperatorToken(OPERATOR_TOKENS[name]!) }))
  .join(',');
/** Request options that send `name`'s token. */
export const as = (name: string) => ({ operatorToken: OPERATOR_TOKENS[name]! });

/** A command error with a code, as the real sentinel answers a refused transition. */
class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Plays the sentinel on the bus: answers `immune.cmd.sentinel.lifecycle` with core's state machine, and judges
 * probation the way a test tells it to (publishing probation.passed or probation.failed), so the healer under
 * test talks to the real NATS contract without the real sentinel.
 */
export class FakeSentinel {
  readonly lifecycles = new Map<string, AgentLifecycle>();
  readonly triggers: Array<{
    agent_id: string;
    trigger: ExternalLifecycleTrigger;
    action?: string;
    adapt?: boolean;
    /** The operator token that came with the trigger (an operator's release carries one). */
    operatorToken?: string;
  }> = [];
  /** Per agent: verdicts for the next probations, in order; an agent with none left passes. */
  readonly verdicts = new Map<string, boolean[]>();
  /** Answers like a sentinel that knows only the query form of the command. */
  queryOnly = false;
  /**
   * Per agent: how many of the next triggers a replica that does not own the agent's partition answers
   * (`not_owner`, before anything is applied), as the load-balanced command can reach one.
   */
  readonly notOwner = new Map<string, number>();
  private subscription: Subscription | undefined;

  constructor(private readonly bus: Bus) {}

  async start(): Promise<void> {
    this.subscription = await this.bus.handleCommand(SENTINEL_LIFECYCLE, async (request, context) => {
      const agent = this.lifecycles.get(request.agent_id);
      if (agent === undefined) throw new CodedError('not_found', `unknown agent ${request.agent_id}`);
      const misses = this.notOwner.get(request.agent_id) ?? 0;
      if (request.trigger !== undefined && misses > 0) {
        this.notOwner.set(request.agent_id, misses - 1);
        throw new CodedError('not_owner', `agent '${request.agent_id}' belongs to another sentinel`);
      }
      if (request.trigger !== undefined && this.queryOnly) {
        this.triggers.push({ agent_id: request.agent_id, trigger: request.trigger });
      } else if (request.trigger !== undefined) {
        this.triggers.push({
          agent_id: request.agent_id,
          trigger: request.trigger,
          ...(request.action === undefined ? {} : { action: request.action }),
          ...(request.adapt_baseline === undefined ? {} : { adapt: request.adapt_baseline }),
          ...(context.operatorToken === undefined ? {} : { operatorToken: context.operatorToken }),
        });
        let moved: ReturnType<typeof transition>;
        try {
          moved = transition(agent, request.trigger, { now: Date.now() });
        } catch (error) {
          throw new CodedError(
            error instanceof IllegalTransitionError ? 'illegal_transition' : 'transition_refused',
            String(error),
          );
        }
        this.lifecycles.set(request.agent_id, moved.agent);
        if (request.trigger === 'healing_succeeded')
          this.judgeSoon(request.agent_id, request.infection_id, request.action!);
      }
      const now = this.lifecycles.get(request.agent_id)!;
      return {
        agent_id: now.agent_id,
        state: now.state,
        entered_at: now.entered_at,
        seq: now.seq,
        history: [],
      };
    });
  }

  /** Puts the agent in a state, as detection would have. */
  set(agentId: string, state: LifecycleState): void {
    const previous = this.lifecycles.get(agentId);
    this.lifecycles.set(agentId, {
      agent_id: agentId,
      state,
      entered_at: Date.now(),
      seq: (previous?.seq ?? 0) + 1,
    });
  }

  state(agentId: string): LifecycleState | undefined {
    return this.lifecycles.get(agentId)?.state;
  }

  private held: Array<() => void> | undefined;

  /** Probation verdicts wait until `release()`, e.g. until the healer under test restarted. */
  holdVerdicts(): { release(): void } {
    this.held = [];
    return {
      release: () => {
        const waiting = this.held ?? [];
        this.held = undefined;
        for (const run of waiting) run();
      },
    };
  }

  private judgeSoon(agentId: string, infectionId: string | undefined, action: string): void {
    if (this.held !== undefined) {
      this.held.push(() => this.judgeSoon(agentId, infectionId, action));
      return;
    }
    const verdict = this.verdicts.get(agentId)?.shift() ?? true;
    setTimeout(() => {
      void (async () => {
        const agent = this.lifecycles.get(agentId)!;
        const moved = transition(agent, verdict ? 'probation_passed' : 'relapse', {
          now: agent.entered_at + 120_000,
          cleanVitals: 100,
        });
        this.lifecycles.set(agentId, moved.agent);
        if (verdict) {
          await this.bus.publishEvent('probation.passed', agentId, {
            infection_id: infectionId!,
            agent_id: agentId,
            action: action as never,
            clean_vitals: 12,
          });
        } else {
          await this.bus.publishEvent('probation.failed', agentId, {
            infection_id: infectionId!,
            agent_id: agentId,
            action: action as never,
            anomalies: [
              { type: 'token_spike', metric: 'total_tokens', observed: 9000, expected: 1000, sigma: 4 },
            ],
          });
        }
      })().catch(() => undefined); // the test may be over and the bus closed
    }, 20);
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}

export interface Harness {
  natsUrl: string;
  prefix: string;
  bus: Bus;
  store: TestStore;
  sentinel: FakeSentinel;
  events: EventEnvelope[];
  eventsOf<T extends EventType>(type: T, agentId?: string): Array<EventEnvelope<T>>;
  /** Starts a healer (a new instance each call, like a restarted process) on its own bus connection. */
  startHealer(options?: HealerOptions): Promise<RunningHealer>;
  close(): Promise<void>;
}

export interface HealerOptions {
  env?: Record<string, string>;
  executors?: HealingExecutor[];
  enforcers?: Enforcer[];
}

export interface RunningHealer {
  healer: Healer;
  bus: Bus;
  stop(): Promise<void>;
  /** Like a crash: the connection goes away without waiting for anything in flight. */
  kill(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix('healer');
  const bus = await connectNatsBus({ url: natsUrl, prefix, name: 'healer-test' });
  const store = await createTestStore();
  const sentinel = new FakeSentinel(bus);
  await sentinel.start();
  const events: EventEnvelope[] = [];
  const watcher = await bus.subscribeEvents({ handler: async (event) => void events.push(event) });
  const healers: RunningHealer[] = [];
  return {
    natsUrl,
    prefix,
    bus,
    store,
    sentinel,
    events,
    eventsOf: <T extends EventType>(type: T, agentId?: string) =>
      events.filter(
        (e) => e.type === type && (agentId === undefined || e.agentId === agentId),
      ) as unknown as Array<EventEnvelope<T>>,
    async startHealer(options = {}) {
      const healerBus = await connectNatsBus({ url: natsUrl, prefix, name: 'healer' });
      const config = loadConfig(HealerEnv, {
        HEALER_PORT: '0',
        LOG_LEVEL: process.env.HEALER_TEST_LOG ?? 'silent',
        LOG_FORMAT: 'json',
        IMMUNE_SUBJECT_PREFIX: prefix,
        HEALER_RECONCILE_MS: '500',
        HEALER_SENTINEL_TIMEOUT_MS: '2000',
        HEALER_EXECUTION: 'simulated',
        IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKEN_LINES,
        ...options.env,
      });
      const logger = createLogger({ service: 'healer-test', level: config.LOG_LEVEL, format: 'json' });
      const healer = createHealer({
        config,
        bus: healerBus,
        db: store.db,
        logger,
        ...(options.executors === undefined ? {} : { executors: options.executors }),
        enforcers: options.enforcers ?? [],
      });
      // What service.ts does, without the HTTP server: commands, then the workflow.
      const commands = await serveCommands(healerBus, healer, loadOperatorTokens(config));
      await healer.start();
      const stop = async () => {
        await Promise.all(commands.map((command) => command.stop()));
        await healer.stop();
      };
      let closed = false;
      const running: RunningHealer = {
        healer,
        bus: healerBus,
        async stop() {
          if (closed) return;
          closed = true;
          await stop();
          await healerBus.drain();
        },
        async kill() {
          if (closed) return;
          closed = true;
          // Close the connection under the healer: nothing in flight is acked, nothing more is answered.
          await (healerBus as unknown as { nc: { close(): Promise<void> } }).nc?.close?.();
          void stop().catch(() => undefined);
        },
      };
      healers.push(running);
      return running;
    },
    async close() {
      for (const healer of healers) await healer.stop().catch(() => undefined);
      await watcher.stop();
      await sentinel.stop();
      await bus.drain();
      await removeTopology(natsUrl, prefix);
      await store.cleanup();
    },
  };
}

let infectionCounter = 0;

/** An infection report as the sentinel publishes it; `sigma` sets how severe it is. */
export function infection(
  agentId: string,
  sigma: number,
  anomalies: ReadonlyArray<Pick<Anomaly, 'type' | 'metric'>> = [
    { type: 'tool_explosion', metric: 'tool_calls' },
    { type: 'high_retry_rate', metric: 'retry_rate' },
  ],
): InfectionReport {
  infectionCounter++;
  return buildInfectionReport({
    id: `inf-${agentId}-${infectionCounter}-${Date.now()}`,
    agentId,
    ts: Date.now(),
    anomalies: anomalies.map((a) => ({ ...a, observed: 10, expected: 1, sigma })),
  });
}
