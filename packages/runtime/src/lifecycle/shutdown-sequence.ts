import type { Logger } from '../logging/create-logger.js';
import {
  DEFAULT_PHASE_TIMEOUTS_MS,
  PHASE_DONE_EVENTS,
  SHUTDOWN_PHASES,
  type ShutdownPhase,
} from './shutdown-phases.js';

/**
 * Work to do when a phase runs. The signal aborts when the phase runs out of time: a hook that can cut its work
 * short (close sockets, drop a batch) should do so then.
 */
export type ShutdownHook = (signal: AbortSignal) => void | Promise<void>;

export type PhaseOutcome = 'done' | 'failed' | 'timed-out' | 'empty';

export interface PhaseReport {
  phase: ShutdownPhase;
  outcome: PhaseOutcome;
  durationMs: number;
}

export interface ShutdownReport {
  /** True when every phase finished without error or timeout. */
  ok: boolean;
  reason: string;
  durationMs: number;
  phases: PhaseReport[];
}

export interface ShutdownSequenceOptions {
  logger: Logger;
  phaseTimeoutsMs?: Partial<Record<ShutdownPhase, number>>;
  /** SHUTDOWN_DRAIN_DELAY_MS: wait between readiness dropping and the HTTP phase. */
  drainDelayMs?: number;
  /** Called first, synchronously, when shutdown starts; readiness turns 503 here. */
  onDraining?: () => void;
}

interface RegisteredHook {
  name: string;
  hook: ShutdownHook;
}

/**
 * The one shutdown mechanism of every service: hooks are registered per named phase, and the runtime, not the
 * service, decides the order. A failing or hung hook is logged and the next phases still run. The limit on the
 * whole sequence (SHUTDOWN_TIMEOUT_MS) is enforced by `runService`, which owns the process and can exit it.
 */
export class ShutdownSequence {
  readonly #logger: Logger;
  readonly #phaseTimeouts: Record<ShutdownPhase, number>;
  readonly #drainDelayMs: number;
  readonly #onDraining: (() => void) | undefined;
  readonly #hooks = new Map<ShutdownPhase, RegisteredHook[]>(SHUTDOWN_PHASES.map((phase) => [phase, []]));
  readonly #draining = new AbortController();
  #finishedPhases = new Set<ShutdownPhase>();
  #running: Promise<ShutdownReport> | undefined;

  constructor(options: ShutdownSequenceOptions) {
    this.#logger = options.logger;
    this.#phaseTimeouts = { ...DEFAULT_PHASE_TIMEOUTS_MS, ...options.phaseTimeoutsMs };
    this.#drainDelayMs = options.drainDelayMs ?? 0;
    this.#onDraining = options.onDraining;
  }

  /** Aborts the moment shutdown starts. Long streams listen to it to say goodbye and end early. */
  get draining(): AbortSignal {
    return this.#draining.signal;
  }

  get started(): boolean {
    return this.#running !== undefined;
  }

  /** Registers a hook; returns a function that unregisters it (for resources closed earlier on purpose). */
  on(phase: ShutdownPhase, hook: ShutdownHook, name: string = hook.name || phase): () => void {
    const entry = { name, hook };
    if (this.#finishedPhases.has(phase)) {
      // Registered after its phase ran (a resource opened during shutdown): release it at once.
      this.#logger.warn({ phase, hook: name }, 'shutdown hook registered after its phase; running it now');
      void this.#runHooks(phase, [entry], new AbortController().signal);
      return () => {};
    }
    this.#hooks.get(phase)!.push(entry);
    return () => {
      const hooks = this.#hooks.get(phase)!;
      const index = hooks.indexOf(entry);
      if (index >= 0) hooks.splice(index, 1);
    };
  }

  onHttpClose(hook: ShutdownHook, name?: string): () => void {
    return this.on('http', hook, name);
  }

  onStopWork(hook: ShutdownHook, name?: string): () => void {
    return this.on('work', hook, name);
  }

  onBusDrain(hook: ShutdownHook, name?: string): () => void {
    return this.on('bus', hook, name);
  }

  onStoreFlush(hook: ShutdownHook, name?: string): () => void {
    return this.on('store', hook, name);
  }

  onPoolClose(hook: ShutdownHook, name?: string): () => void {
    return this.on('pool', hook, name);
  }

  onTelemetryShutdown(hook: ShutdownHook, name?: string): () => void {
    return this.on('telemetry', hook, name);
  }

  /** Runs the sequence once; later calls return the same report. */
  run(reason: string): Promise<ShutdownReport> {
    this.#running ??= this.#run(reason);
    return this.#running;
  }

  async #run(reason: string): Promise<ShutdownReport> {
    const startedAt = Date.now();
    this.#draining.abort(new Error(`shutting down: ${reason}`));
    try {
      this.#onDraining?.();
    } catch (error) {
      this.#logger.error({ err: error }, 'marking the service as draining failed');
    }
    this.#logger.info({ event: 'shutdown-started', reason }, 'shutdown started');

    if (this.#drainDelayMs > 0) {
      this.#logger.info(
        { event: 'drain-delay', delayMs: this.#drainDelayMs },
        'readiness dropped; waiting for load balancers before closing',
      );
      await sleep(this.#drainDelayMs);
    }

    const phases: PhaseReport[] = [];
    for (const phase of SHUTDOWN_PHASES) {
      phases.push(await this.#runPhase(phase));
      this.#finishedPhases.add(phase);
    }
    const ok = phases.every((report) => report.outcome === 'done' || report.outcome === 'empty');
    const durationMs = Date.now() - startedAt;
    const summary = { event: 'shutdown-complete', ok, reason, durationMs };
    if (ok) this.#logger.info(summary, 'shutdown complete');
    else
      this.#logger.error(
        { ...summary, failed: phases.filter((p) => p.outcome !== 'done' && p.outcome !== 'empty') },
        'shutdown finished with failures',
      );
    return { ok, reason, durationMs, phases };
  }

  async #runPhase(phase: ShutdownPhase): Promise<PhaseReport> {
    const hooks = [...this.#hooks.get(phase)!];
    const startedAt = Date.now();
    if (hooks.length === 0) {
      this.#logger.debug({ phase }, 'shutdown phase has no hooks');
      return { phase, outcome: 'empty', durationMs: 0 };
    }
    const timeoutMs = this.#phaseTimeouts[phase];
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed-out'>((resolve) => {
      timer = setTimeout(() => resolve('timed-out'), timeoutMs);
    });
    const pending = new Set(hooks.map((entry) => entry.name));
    const result = await Promise.race([this.#runHooks(phase, hooks, controller.signal, pending), timedOut]);
    clearTimeout(timer);
    const durationMs = Date.now() - startedAt;

    if (result === 'timed-out') {
      controller.abort(new Error(`shutdown phase ${phase} timed out after ${timeoutMs} ms`));
      this.#logger.error(
        { event: 'shutdown-phase-timeout', phase, timeoutMs, pending: [...pending] },
        `shutdown phase ${phase} timed out after ${timeoutMs} ms; continuing`,
      );
      return { phase, outcome: 'timed-out', durationMs };
    }
    if (result === 'failed') return { phase, outcome: 'failed', durationMs };
    this.#logger.info({ event: PHASE_DONE_EVENTS[phase], phase, durationMs }, PHASE_DONE_EVENTS[phase]);
    return { phase, outcome: 'done', durationMs };
  }

  /** Hooks of one phase run concurrently: they release independent resources. */
  async #runHooks(
    phase: ShutdownPhase,
    hooks: RegisteredHook[],
    signal: AbortSignal,
    pending = new Set<string>(),
  ): Promise<'done' | 'failed'> {
    const outcomes = await Promise.allSettled(
      hooks.map(async ({ name, hook }) => {
        try {
          await hook(signal);
        } catch (error) {
          this.#logger.error({ err: error, phase, hook: name }, `shutdown hook ${name} failed`);
          throw error;
        } finally {
          pending.delete(name);
        }
      }),
    );
    return outcomes.every((outcome) => outcome.status === 'fulfilled') ? 'done' : 'failed';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
