export type ReadinessState = 'starting' | 'ready' | 'draining';

/** A dependency the service cannot serve without (bus connection, database); false or a throw means not ready. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface ReadinessReport {
  ready: boolean;
  state: ReadinessState;
  /** Only present when checks are registered: each check's outcome. */
  checks?: Record<string, 'ok' | 'failing' | 'timeout'>;
}

/** A check slower than this counts as failing: a probe must answer before the orchestrator's own timeout. */
const CHECK_TIMEOUT_MS = 1000;

/**
 * Whether the instance should receive traffic. It starts `starting`, becomes `ready` when the service says so,
 * and turns `draining` for good as soon as shutdown begins, so load balancers stop routing here before
 * listeners close.
 */
export class Readiness {
  #state: ReadinessState = 'starting';
  readonly #checks = new Map<string, ReadinessCheck>();

  get state(): ReadinessState {
    return this.#state;
  }

  markReady(): void {
    if (this.#state === 'starting') this.#state = 'ready';
  }

  markDraining(): void {
    this.#state = 'draining';
  }

  addCheck(name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check);
  }

  async report(): Promise<ReadinessReport> {
    const state = this.#state;
    if (this.#checks.size === 0) return { ready: state === 'ready', state };
    const entries = await Promise.all(
      [...this.#checks].map(async ([name, check]) => [name, await runCheck(check)] as const),
    );
    const checks = Object.fromEntries(entries);
    const healthy = entries.every(([, outcome]) => outcome === 'ok');
    return { ready: state === 'ready' && healthy, state, checks };
  }
}

async function runCheck(check: ReadinessCheck): Promise<'ok' | 'failing' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CHECK_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(check), timeout]);
    if (outcome === 'timeout') return 'timeout';
    return outcome ? 'ok' : 'failing';
  } catch {
    return 'failing';
  } finally {
    clearTimeout(timer);
  }
}
