import type { Vital } from './vital.js';

const NUMBERS = [
  'ts',
  'latency_ms',
  'ttft_ms',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'tool_calls',
  'retries',
  'cost',
] as const satisfies ReadonlyArray<keyof Vital>;
const STRINGS = [
  'id',
  'source',
  'kind',
  'model',
  'provider',
  'error_type',
  'prompt_hash',
  'request_hash',
  'tool_name',
  'mcp_server',
  'trace_id',
] as const satisfies ReadonlyArray<keyof Vital>;
const SUCCESS = NUMBERS.length;

/** The string kept from the previous slot when equal, so the freshly decoded copy can die young. */
function same(value: string | undefined, previous: string | undefined): string | undefined {
  return value !== undefined && value === previous ? previous : value;
}
const NUMBER_SLOTS = NUMBERS.length + 1;

/**
 * An agent's last few vitals, kept for infection reports. Holding the decoded vital objects themselves made
 * every one of them survive into the old generation (an agent's vital stays in the ring for its next few
 * calls), and the garbage collector's copying cost a quarter of the sentinel's time. The ring stores the
 * numbers in one typed array allocated once, and of the strings keeps the previous slot's reference when the
 * value repeats (model, prompt hash, source...), so per vital only its truly new strings (id, request hash)
 * are retained.
 */
export class RecentVitals {
  private readonly numbers: Float64Array;
  private readonly strings: Array<string | undefined>;
  private next = 0;
  private fill = 0;

  constructor(
    readonly capacity: number,
    private readonly agentId: string,
  ) {
    this.numbers = new Float64Array(capacity * NUMBER_SLOTS);
    this.strings = new Array<string | undefined>(capacity * STRINGS.length).fill(undefined);
  }

  get size(): number {
    return this.fill;
  }

  push(vital: Vital): void {
    const capacity = this.capacity;
    if (capacity === 0) return;
    const slot = this.next;
    // Field by field rather than a loop over key names: keyed loads with varying keys are several times
    // slower, and this runs on every vital.
    const numbers = this.numbers;
    const n = slot * NUMBER_SLOTS;
    numbers[n] = vital.ts;
    numbers[n + 1] = vital.latency_ms;
    numbers[n + 2] = vital.ttft_ms ?? Number.NaN;
    numbers[n + 3] = vital.input_tokens;
    numbers[n + 4] = vital.output_tokens;
    numbers[n + 5] = vital.total_tokens;
    numbers[n + 6] = vital.tool_calls;
    numbers[n + 7] = vital.retries;
    numbers[n + 8] = vital.cost;
    numbers[n + SUCCESS] = vital.success ? 1 : 0;
    const strings = this.strings;
    const s = slot * STRINGS.length;
    const p = this.fill === 0 ? s : ((slot + capacity - 1) % capacity) * STRINGS.length;
    strings[s] = vital.id;
    strings[s + 1] = same(vital.source, strings[p + 1]);
    strings[s + 2] = same(vital.kind, strings[p + 2]);
    strings[s + 3] = same(vital.model, strings[p + 3]);
    strings[s + 4] = same(vital.provider, strings[p + 4]);
    strings[s + 5] = same(vital.error_type, strings[p + 5]);
    strings[s + 6] = same(vital.prompt_hash, strings[p + 6]);
    strings[s + 7] = vital.request_hash;
    strings[s + 8] = same(vital.tool_name, strings[p + 8]);
    strings[s + 9] = same(vital.mcp_server, strings[p + 9]);
    strings[s + 10] = vital.trace_id;
    this.next = (slot + 1) % capacity;
    if (this.fill < capacity) this.fill++;
  }

  /** The kept vitals, oldest first, as new objects equal to the ones pushed. */
  toArray(): Vital[] {
    const out: Vital[] = [];
    const start = this.fill < this.capacity ? 0 : this.next;
    for (let i = 0; i < this.fill; i++) out.push(this.at((start + i) % this.capacity));
    return out;
  }

  private at(slot: number): Vital {
    const n = slot * NUMBER_SLOTS;
    const s = slot * STRINGS.length;
    const vital: Record<string, unknown> = { agent_id: this.agentId };
    for (let k = 0; k < NUMBERS.length; k++) {
      const value = this.numbers[n + k]!;
      if (!Number.isNaN(value)) vital[NUMBERS[k]!] = value;
    }
    vital.success = this.numbers[n + SUCCESS] === 1;
    for (let k = 0; k < STRINGS.length; k++) {
      const value = this.strings[s + k];
      if (value !== undefined) vital[STRINGS[k]!] = value;
    }
    return vital as unknown as Vital;
  }
}
