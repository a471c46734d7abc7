import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually } from '@immune/bus/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImmuneReporter, type ReporterError, type ReporterOptions } from '../src/reporter.js';
import { FakeIngest } from './fake-ingest.js';

let ingest: FakeIngest;
const reporters: ImmuneReporter[] = [];
beforeEach(async () => {
  ingest = await FakeIngest.start();
});
afterEach(async () => {
  for (const reporter of reporters.splice(0)) await reporter.close();
  await ingest.close();
});

function reporter(options: Partial<ReporterOptions> = {}): ImmuneReporter {
  const created = new ImmuneReporter({
    url: ingest.url,
    apiKey: 'imk_test-key-0123456789',
    agentId: 'sdk-agent',
    exitHooks: false,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    ...options,
  });
  reporters.push(created);
  return created;
}

// Generous: the machine is shared, and the first request of a worker pays for undici's start.
describe('ImmuneReporter', { timeout: 30_000 }, () => {
  it('fills a complete vital, sends it with the key, and batches by size', async () => {
    const r = reporter({ batchSize: 3, flushIntervalMs: 60_000 });
    const ids = Array.from({ length: 7 }, (_, i) =>
      r.report({ kind: 'llm', latency_ms: 10 + i, input_tokens: 5, output_tokens: 2 }),
    );
    // The sender drains what is queued when a batch ends, so the last partial batch may already be on its way.
    await eventually(() => expect(ingest.accepted.length).toBeGreaterThanOrEqual(6), 20_000);
    await r.flush();
    expect(ingest.received.map((req) => req.body.vitals!.length)).toEqual([3, 3, 1]);
    expect(ingest.accepted).toEqual(ids);
    expect(ingest.received[0]!.headers.authorization).toBe('Bearer imk_test-key-0123456789');
    expect(ingest.received[0]!.body.vitals![0]).toMatchObject({
      agent_id: 'sdk-agent',
      source: 'ingest',
      kind: 'llm',
      total_tokens: 7,
      tool_calls: 0,
      retries: 0,
      cost: 0,
      success: true,
    });
  });

  it('sends a batch that is not full once its flush interval has passed', async () => {
    const r = reporter({ batchSize: 100, flushIntervalMs: 30 });
    const id = r.report({ latency_ms: 1 });
    await eventually(() => expect(ingest.accepted).toEqual([id]), 20_000);
  });

  it('retries 503, 429 and network failures with backoff, with the same ids', async () => {
    ingest.script(
      () => ({ status: 503, body: { error: { code: 'BUS_UNAVAILABLE', message: 'x' } } }),
      () => ({ status: 429, headers: { 'retry-after': '0' } }),
    );
    const r = reporter();
    const ids = [r.report({ latency_ms: 1 }), r.report({ latency_ms: 2 })];
    await r.flush();
    expect(ingest.accepted).toEqual(ids);
    expect(r.stats).toMatchObject({ sent: 2, dropped: 0, retries: 2, queued: 0 });
  });

  it('gives up after maxAttempts when ingest is unreachable, and says which vitals were dropped', async () => {
    const errors: ReporterError[] = [];
    await ingest.close();
    const r = reporter({ maxAttempts: 3, onError: (e) => void errors.push(e) });
    const id = r.report({ latency_ms: 1 });
    await r.flush();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.vitalIds).toEqual([id]);
    expect(errors[0]!.status).toBeUndefined();
    expect(r.stats).toMatchObject({ dropped: 1, retries: 2 });
    ingest = await FakeIngest.start(); // for afterEach
  });

  it('drops a batch ingest refuses (no retry), and splits one that is too large', async () => {
    const errors: ReporterError[] = [];
    ingest.script(
      () => ({
        status: 400,
        body: { error: { code: 'VALIDATION_FAILED', message: 'body.vitals.0.ts is in the future' } },
      }),
      () => ({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'too big' } } }),
    );
    const r = reporter({ onError: (e) => void errors.push(e) });
    r.report({ latency_ms: 1 });
    await r.flush();
    expect(errors[0]).toMatchObject({ status: 400 });
    expect(errors[0]!.message).toContain('VALIDATION_FAILED');
    const ids = Array.from({ length: 4 }, () => r.report({ latency_ms: 1 }));
    await r.flush();
    expect(ingest.accepted).toEqual(ids);
    expect(ingest.received.map((req) => req.body.vitals!.length)).toEqual([2, 2]);
  });

  it('refuses an invalid vital at once, where the mistake is made', () => {
    const r = reporter();
    expect(() => r.report({ latency_ms: 1, input_tokens: -1 })).toThrow(/input_tokens/);
    expect(() =>
      new ImmuneReporter({ url: ingest.url, apiKey: 'k', exitHooks: false }).report({ latency_ms: 1 }),
    ).toThrow(/agent_id is required/);
  });

  it('keeps at most maxQueue vitals, dropping the oldest', async () => {
    const errors: ReporterError[] = [];
    const r = reporter({
      maxQueue: 3,
      batchSize: 100,
      flushIntervalMs: 60_000,
      onError: (e) => void errors.push(e),
    });
    const ids = Array.from({ length: 5 }, () => r.report({ latency_ms: 1 }));
    expect(errors.flatMap((e) => e.vitalIds)).toEqual(ids.slice(0, 2));
    await r.flush();
    expect(ingest.accepted).toEqual(ids.slice(2));
  });

  it('registers the agent', async () => {
    const r = reporter();
    const result = await r.register({ name: 'SDK agent', tags: ['a'], pid: process.pid });
    expect(result.created).toBe(true);
    expect(ingest.received[0]).toMatchObject({
      path: '/api/v1/agents/register',
      body: { agent_id: 'sdk-agent', name: 'SDK agent', tags: ['a'], pid: process.pid },
    });
  });

  it('close() flushes and then refuses reports', async () => {
    const r = reporter({ flushIntervalMs: 60_000 });
    const id = r.report({ latency_ms: 1 });
    await r.close();
    expect(ingest.accepted).toEqual([id]);
    expect(() => r.report({ latency_ms: 1 })).toThrow(/closed/);
  });
});

describe('ImmuneReporter exit hooks', () => {
  const AGENT = fileURLToPath(new URL('./fixtures/exiting-agent.ts', import.meta.url));
  const run = (env: Record<string, string>) =>
    spawn(process.execPath, ['--conditions=@immune/source', '--import', 'tsx', AGENT], {
      env: { ...process.env, INGEST_URL: ingest.url, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });

  it('flushes when the process ends on its own', async () => {
    const child = run({});
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(ingest.accepted).toHaveLength(25);
  }, 60_000);

  it('flushes on SIGTERM, then lets the signal end the process', async () => {
    const child = run({ WAIT_FOR_SIGNAL: '1' });
    await once(child.stdout!, 'data');
    child.kill('SIGTERM');
    const [, signal] = await once(child, 'exit');
    expect(signal).toBe('SIGTERM');
    expect(ingest.accepted).toHaveLength(25);
  }, 60_000);
});
