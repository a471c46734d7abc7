import { randomUUID } from 'node:crypto';
import { compileChecker, Vital, type VitalKind } from '@immune/core';

/**
 * One vital as your agent reports it. Only `latency_ms` is required; the reporter fills `id` (so a retried
 * request is never counted twice), `ts` (now), `agent_id` (the reporter's), `kind` (`task`), zero counts,
 * `total_tokens` (input + output) and `success` (true).
 */
export interface VitalReport {
  latency_ms: number;
  agent_id?: string;
  id?: string;
  ts?: number;
  kind?: VitalKind;
  model?: string;
  provider?: string;
  ttft_ms?: number;
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  tool_calls?: number;
  retries?: number;
  cost?: number;
  success?: boolean;
  error_type?: string;
  prompt_hash?: string;
  request_hash?: string;
  tool_name?: string;
  mcp_server?: string;
  trace_id?: string;
}

/** What an agent tells Immune about itself. Fields left out keep their stored value. */
export interface AgentInfo {
  agent_id?: string;
  name?: string;
  model?: string;
  mcp_servers?: string[];
  tags?: string[];
  /** Where the healer's agent webhook executor posts reset / rollback / restart. */
  control_url?: string;
  /** Defaults to this process's pid when `includePid` is set. */
  pid?: number;
  metadata?: Record<string, unknown>;
}

export interface RegisteredAgent {
  agent: {
    id: string;
    name: string | null;
    model: string | null;
    tags: string[];
    mcp_servers: string[];
    control_url: string | null;
    pid: number | null;
    state: string;
    first_seen: number;
    last_seen: number;
    metadata: Record<string, unknown>;
  };
  created: boolean;
}

export interface ReporterOptions {
  /** Ingest's base URL, e.g. `http://immune-ingest:4100`. */
  url: string;
  /** An ingest API key (`imk_…`). */
  apiKey: string;
  /** The agent vitals are reported for unless a report names another. */
  agentId?: string;
  /** A batch is sent when it holds this many vitals. Default 100. */
  batchSize?: number;
  /** ...or when its first vital has waited this long, ms. Default 1000. */
  flushIntervalMs?: number;
  /** Vitals kept while ingest is unreachable; beyond it the oldest are dropped (and reported). Default 10,000. */
  maxQueue?: number;
  /** Attempts per batch before it is dropped. Default 8 (about a minute of backoff). */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt up to `maxBackoffMs`, with full jitter. Default 250 ms. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per request. Default 10,000 ms. */
  timeoutMs?: number;
  /** Flush on `beforeExit`, SIGTERM and SIGINT. Default true. */
  exitHooks?: boolean;
  /** Told about vitals that were dropped (refused by ingest, or undeliverable after every attempt). */
  onError?: (error: ReporterError) => void;
  /** For tests and unusual runtimes. */
  fetch?: typeof fetch;
}

/** Vitals the reporter had to give up on, and why. */
export class ReporterError extends Error {
  override readonly name = 'ReporterError';
  constructor(
    message: string,
    /** Ids of the vitals that were dropped (empty for a failed registration). */
    readonly vitalIds: readonly string[],
    /** The HTTP status when ingest answered, undefined for network errors and timeouts. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ReporterStats {
  queued: number;
  sent: number;
  dropped: number;
  retries: number;
}

const vitalChecker = compileChecker(Vital);
const EXIT_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const EXIT_FLUSH_TIMEOUT_MS = 5_000;

/** Transient: worth another attempt. */
const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * Reports vitals to Immune's ingest service from a Node agent: batched (size and time), retried with
 * exponential backoff and jitter on network errors, 429 and 5xx, and flushed when the process exits.
 *
 * ```ts
 * const immune = new ImmuneReporter({ url: 'http://localhost:4100', apiKey, agentId: 'research-bot' });
 * immune.report({ kind: 'llm', model: 'gpt-4o', latency_ms: 812, input_tokens: 1200, output_tokens: 300 });
 * await immune.close(); // on shutdown; exit hooks do it too
 * ```
 */
export class ImmuneReporter {
  readonly #url: string;
  readonly #apiKey: string;
  readonly #agentId: string | undefined;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxQueue: number;
  readonly #maxAttempts: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #timeoutMs: number;
  readonly #onError: ((error: ReporterError) => void) | undefined;
  readonly #fetch: typeof fetch;

  #queue: Vital[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #closed = false;
  readonly #stats = { sent: 0, dropped: 0, retries: 0 };
  readonly #hooks: Array<() => void> = [];

  constructor(options: ReporterOptions) {
    this.#url = options.url.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#agentId = options.agentId;
    this.#batchSize = positive('batchSize', options.batchSize ?? 100);
    this.#flushIntervalMs = options.flushIntervalMs ?? 1_000;
    this.#maxQueue = positive('maxQueue', options.maxQueue ?? 10_000);
    this.#maxAttempts = positive('maxAttempts', options.maxAttempts ?? 8);
    this.#initialBackoffMs = options.initialBackoffMs ?? 250;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#onError = options.onError;
    this.#fetch = options.fetch ?? fetch;
    if (options.exitHooks !== false) this.#installExitHooks();
  }

  get stats(): ReporterStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  /**
   * Queues one vital and returns its id. Throws a TypeError at once when the vital is invalid (a negative
   * count, a missing agent), so mistakes show up where they are made rather than as a refused batch later.
   */
  report(report: VitalReport): string {
    if (this.#closed) throw new Error('ImmuneReporter: closed');
    const vital = this.#complete(report);
    if (!vitalChecker.check(vital)) {
      const issues = vitalChecker.issues(vital).map((issue) => `${issue.path} ${issue.message}`);
      throw new TypeError(`ImmuneReporter: invalid vital: ${issues.join('; ')}`);
    }
    if (this.#queue.length >= this.#maxQueue) {
      const dropped = this.#queue.splice(0, this.#queue.length - this.#maxQueue + 1);
      this.#drop(dropped, 'the queue is full (ingest unreachable for too long?); dropped the oldest vitals');
    }
    this.#queue.push(vital);
    if (this.#queue.length >= this.#batchSize) this.#kick();
    else this.#timer ??= unrefTimer(setTimeout(() => this.#kick(), this.#flushIntervalMs));
    return vital.id;
  }

  /** Sends everything queued now; resolves when it was delivered or given up on. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#sending !== undefined) {
      this.#kick();
      await this.#sending;
    }
  }

  /** Flushes, removes the exit hooks, and refuses further reports. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const remove of this.#hooks.splice(0)) remove();
    await this.flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Registers or updates the agent (name, model, MCP servers, tags, control URL, pid). Retried like vitals. */
  async register(info: AgentInfo = {}): Promise<RegisteredAgent> {
    const agentId = info.agent_id ?? this.#agentId;
    if (agentId === undefined) throw new TypeError('ImmuneReporter.register: agent_id is required');
    const response = await this.#send('/api/v1/agents/register', { ...info, agent_id: agentId });
    if (response.ok) return (await response.json()) as RegisteredAgent;
    throw new ReporterError(`register failed: ${await describe(response)}`, [], response.status);
  }

  #complete(report: VitalReport): Vital {
    const input = report.input_tokens ?? 0;
    const output = report.output_tokens ?? 0;
    const agentId = report.agent_id ?? this.#agentId;
    const vital = {
      ...report,
      id: report.id ?? randomUUID(),
      agent_id: agentId as string,
      ts: report.ts ?? Date.now(),
      source: 'ingest' as const,
      kind: report.kind ?? 'task',
      input_tokens: input,
      output_tokens: output,
      total_tokens: report.total_tokens ?? input + output,
      tool_calls: report.tool_calls ?? 0,
      retries: report.retries ?? 0,
      cost: report.cost ?? 0,
      success: report.success ?? true,
    };
    if (agentId === undefined) {
      throw new TypeError('ImmuneReporter: agent_id is required (in the report or as the agentId option)');
    }
    return vital;
  }

  /** Starts sending everything queued, unless a send is already running. */
  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#sending !== undefined || this.#queue.length === 0) return;
    this.#sending = this.#drain().finally(() => {
      this.#sending = undefined;
      // Reports that arrived meanwhile get their timer (or go at once when a batch is full).
      if (this.#queue.length >= this.#batchSize) this.#kick();
      else if (this.#queue.length > 0 && !this.#closed)
        this.#timer ??= unrefTimer(setTimeout(() => this.#kick(), this.#flushIntervalMs));
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#batchSize);
      await this.#deliver(batch);
    }
  }

  /** One batch, retried; split when ingest finds it too large. */
  async #deliver(batch: Vital[]): Promise<void> {
    let response: Response;
    try {
      response = await this.#send('/api/v1/ingest', { vitals: batch });
    } catch (error) {
      this.#drop(batch, `ingest unreachable after ${this.#maxAttempts} attempts`, undefined, error);
      return;
    }
    if (response.status === 202) {
      this.#stats.sent += batch.length;
      return;
    }
    const detail = await describe(response);
    const tooLarge =
      response.status === 413 || (response.status === 400 && detail.startsWith('TOO_MANY_VITALS'));
    if (tooLarge && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.#deliver(batch.slice(0, half));
      await this.#deliver(batch.slice(half));
      return;
    }
    this.#drop(batch, `ingest refused the batch: ${detail}`, response.status);
  }

  /** POSTs with retries on network errors, timeouts, 408, 429 and 5xx; resolves with the final response. */
  async #send(path: string, body: unknown): Promise<Response> {
    const payload = JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const response = await this.#fetch(`${this.#url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.#apiKey}`, 'content-type': 'application/json' },
          body: payload,
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        if (!retryable(response.status) || attempt >= this.#maxAttempts) return response;
        retryAfterMs = retryAfter(response.headers.get('retry-after'));
        await response.body?.cancel();
      } catch (error) {
        if (attempt >= this.#maxAttempts) throw error;
      }
      this.#stats.retries++;
      const ceiling = Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** (attempt - 1));
      // Full jitter: many agents that lost ingest at the same moment must not come back in lockstep.
      const delay = Math.max(retryAfterMs ?? 0, Math.random() * ceiling);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  #drop(vitals: readonly Vital[], message: string, status?: number, cause?: unknown): void {
    this.#stats.dropped += vitals.length;
    const error = new ReporterError(
      `${vitals.length} vital(s) dropped: ${message}`,
      vitals.map((vital) => vital.id),
      status,
      cause === undefined ? undefined : { cause },
    );
    if (this.#onError !== undefined) this.#onError(error);
    else process.emitWarning(error.message, 'ImmuneReporterWarning');
  }

  #installExitHooks(): void {
    const beforeExit = () => {
      if (this.#queue.length > 0) void this.flush();
    };
    process.on('beforeExit', beforeExit);
    this.#hooks.push(() => process.off('beforeExit', beforeExit));
    for (const signal of EXIT_SIGNALS) {
      const onSignal = () => {
        process.off(signal, onSignal);
        const deadline = new Promise((resolve) => unrefTimer(setTimeout(resolve, EXIT_FLUSH_TIMEOUT_MS)));
        void Promise.race([this.flush(), deadline]).finally(() => {
          // Only when nobody else handles the signal do we restore its default (ending the process);
          // otherwise the application's own handler decides.
          if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
        });
      };
      process.on(signal, onSignal);
      this.#hooks.push(() => process.off(signal, onSignal));
    }
  }
}

function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 60_000) : undefined;
}

async function describe(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (error?.code !== undefined) return `${error.code}: ${error.message ?? ''} (HTTP ${response.status})`;
  } catch {
    // Not our JSON error shape (a proxy in between, say): the status says enough.
  }
  return `HTTP ${response.status}`;
}

function unrefTimer(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`ImmuneReporter: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
