import type { BenchConfig } from './config.js';
import type { LoadResult, RateMode } from './load.js';
import type { TtfbResult } from './ttfb.js';

export interface CpuPerRequest {
  /** CPU µs per 2xx response, per process; NaN when the process is not part of the target. */
  server: number;
  mock: number;
  nats: number;
  loadgen: number;
  /** CPU used by everything else on the machine, % of all cores. */
  otherLoadPct: number;
}

export interface StepRecord {
  rate: number;
  mode: RateMode;
  load: LoadResult;
  sustained: boolean;
  cpu: CpuPerRequest;
  /** Log bytes the server wrote per request (our gateway only). */
  logBytesPerRequest?: number;
}

export interface MaxRecord {
  load: LoadResult;
  cpu: CpuPerRequest;
}

export interface SoakRecord {
  rate: number;
  seconds: number;
  rssIdleMiB: number;
  samples: Array<{ s: number; rssMiB: number }>;
  rssEndMiB: number;
  rssPeakMiB: number;
  rssAfterIdleMiB: number;
  load: Omit<LoadResult, 'statusCodes'>;
  cpu: CpuPerRequest;
}

export interface TargetRecord {
  name: string;
  label: string;
  rssIdleMiB?: number;
  steps: StepRecord[];
  max?: MaxRecord;
  ttfb?: TtfbResult;
  note?: string;
}

export interface BenchResult {
  date: string;
  quick: boolean;
  command: string;
  machine: Record<string, string | number>;
  config: BenchConfig;
  prefix: string;
  loadavg: { start: number[]; end: number[] };
  /** CPU other work used (% of all cores) in the 5 s before the run started. */
  otherLoadAtStartPct: number;
  targets: TargetRecord[];
  soak: Record<string, SoakRecord>;
  variants: VariantRecord[];
  cleanup: { deletedStreams: string[]; error?: string };
}

/** One diagnostic variant of our gateway in one round. */
export interface VariantRecord {
  name: string;
  label: string;
  round: number;
  maxRps: number;
  /** At max throughput. */
  cpu: CpuPerRequest;
  paced1000: { okRps: number; p50: number; p99: number; failed: number };
}
