/**
 * The fault test's clients: every agent makes one LLM call through the gateway and reports one task vital to
 * ingest per round, at a steady pace. Gateway calls are awaited (a failure is a client error: the gateway
 * must never fail a client); ingest reports go through a sender that retries a refused or lost batch with
 * the same ids until it is accepted, as the SDK does, so a retry must never become a duplicate.
 */

/** Pause between the last round of one fault and the first of the next. */
export const BOUNDARY_GAP_MS = 1_000;

export interface RoundWindow {
  label: string;
  start: number;
  end: number;
}

export interface Sent {
  /** Per agent: gateway calls answered 200 (each must be exactly one stored vital). */
  gatewayOk: Map<string, number>;
  /** Per label: gateway calls that failed (non-200 or no answer). */
  gatewayErrors: Map<string, number>;
  /** Every ingest vital id with its agent and label. */
  ingest: Map<string, { agent: string; label: string }>;
  /** Per label: ingest attempts refused or unanswered (retried). */
  ingestRetries: Map<string, number>;
  rounds: RoundWindow[];
}

/** A small seeded PRNG (LCG), so every run sends the same numbers. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export class Traffic {
  label = 'steady';
  readonly sent: Sent = {
    gatewayOk: new Map(),
    gatewayErrors: new Map(),
    ingest: new Map(),
    ingestRetries: new Map(),
    rounds: [],
  };
  private running = true;
  private readonly queue: Array<{ vital: Record<string, unknown>; label: string }> = [];
  private readonly random = rng(19);
  private readonly runTag = Date.now().toString(36);
  private loops: Promise<void>[] = [];

  constructor(
    private readonly agents: readonly string[],
    private readonly gatewayUrl: string,
    private readonly ingestUrl: string,
    private readonly apiKey: string,
    private readonly periodMs: number,
  ) {}

  get agentCount(): number {
    return this.agents.length;
  }

  get roundsDone(): number {
    return this.sent.rounds.length;
  }

  /** Vitals still waiting to be accepted by ingest. */
  get ingestBacklog(): number {
    return this.queue.length;
  }

  start(): void {
    this.loops = [this.roundLoop(), this.ingestLoop()];
  }

  /** Stops the rounds, then waits until ingest accepted every queued vital. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async roundLoop(): Promise<void> {
    let round = 0;
    let previous = this.label;
    while (this.running) {
      const label = this.label;
      if (label !== previous) {
        // A quiet second between faults: the gateway stamps a vital when its call ends, a little after the
        // client saw the answer, and this gap keeps such a stamp nearer its own round than the next fault's.
        previous = label;
        await new Promise((resolve) => setTimeout(resolve, BOUNDARY_GAP_MS));
      }
      const start = Date.now();
      round++;
      for (const agent of this.agents) {
        const vital = {
          id: `${this.runTag}-${agent}-${round}`,
          agent_id: agent,
          ts: start,
          kind: 'task',
          latency_ms: Math.round(900 + this.random() * 100),
          input_tokens: Math.round(500 + this.random() * 50),
          output_tokens: Math.round(200 + this.random() * 20),
          success: true,
        };
        this.queue.push({ vital, label });
        this.sent.ingest.set(vital.id, { agent, label });
      }
      await Promise.all(this.agents.map((agent) => this.call(agent, round, label)));
      this.sent.rounds.push({ label, start, end: Date.now() });
      // Pace: one round per period, whatever the calls took (a slow round is followed at once).
      const wait = start + this.periodMs - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private async call(agent: string, round: number, label: string): Promise<void> {
    try {
      const res = await fetch(`${this.gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-immune-agent': agent },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          messages: [
            { role: 'system', content: `You are ${agent}.` },
            // A different question every round: identical requests would be a retry storm.
            { role: 'user', content: `Summarise item ${round}.` },
          ],
        }),
      });
      await res.arrayBuffer();
      if (res.status === 200) bump(this.sent.gatewayOk, agent);
      else bump(this.sent.gatewayErrors, label);
    } catch {
      bump(this.sent.gatewayErrors, label);
    }
  }

  private async ingestLoop(): Promise<void> {
    while (this.running || this.queue.length > 0) {
      const batch = this.queue.slice(0, 200);
      if (batch.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      let accepted = false;
      try {
        const res = await fetch(`${this.ingestUrl}/api/v1/ingest`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}` },
          body: JSON.stringify({ vitals: batch.map((b) => b.vital) }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        accepted = res.status === 202;
      } catch {
        accepted = false;
      }
      if (accepted) {
        this.queue.splice(0, batch.length);
      } else {
        for (const { label } of batch.slice(0, 1)) bump(this.sent.ingestRetries, label);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}
