import { afterEach, describe, expect, it } from 'vitest';
import { get, type ServiceProcess, startBusyService } from './service-process.js';

const SECRET = 'busy-secret-key-do-not-log';
const running: ServiceProcess[] = [];

afterEach(() => {
  for (const service of running.splice(0)) if (service.child.exitCode === null) service.kill('SIGKILL');
});

async function start(env: Record<string, string> = {}, waitUntilReady = true): Promise<ServiceProcess> {
  const service = await startBusyService(env, { waitUntilReady });
  running.push(service);
  return service;
}

function events(service: ServiceProcess): string[] {
  return service.logs().flatMap((entry) => (typeof entry.event === 'string' ? [entry.event] : []));
}

/**
 * Polls until a new connection is refused. A connection the kernel accepted into the backlog just before the
 * listener closed is reset instead (ECONNRESET): that proves nothing yet, so it polls again until ECONNREFUSED.
 */
async function expectRefused(port: number): Promise<number> {
  for (;;) {
    const outcome = await get(port, '/healthz').then(
      () => 'served',
      (error: NodeJS.ErrnoException) => error.code ?? error.message,
    );
    if (outcome === 'ECONNREFUSED') return Date.now();
    if (outcome !== 'served' && outcome !== 'ECONNRESET' && outcome !== 'socket hang up')
      throw new Error(`unexpected connection error ${outcome}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// Each test spawns a TypeScript process through tsx: seconds on a quiet machine, tens of seconds on a loaded one (the
// timeout is only a guard against a hang; nothing here asserts how long a step took, only its order and outcome).
describe('graceful shutdown of a busy service process', { timeout: 180_000 }, () => {
  it('drains on SIGTERM: readiness fails at once, in-flight requests and streams finish, phases run in order, exit 0', async () => {
    // The drain delay keeps the listener open after readiness dropped, long enough to observe the 503 even on a
    // loaded machine; the slow requests outlive it, so they are still in flight when the listener closes.
    const service = await start({ SHUTDOWN_DRAIN_DELAY_MS: '4000', SHUTDOWN_TIMEOUT_MS: '60000' });
    const { port } = service;
    expect((await get(port, '/readyz')).status).toBe(200);

    const stream = get(port, '/events?count=20&intervalMs=100');
    await service.waitForEvent('stream-started');
    // Long enough to outlast the drain delay by far even when this machine is loaded.
    const slow = [1, 2, 3].map(() => get(port, '/slow?ms=10000'));
    // Settled later; a rejection must not go unhandled if an assertion fails first.
    for (const pending of slow) pending.catch(() => {});
    await service.waitForEvent('slow-started', 3);

    service.kill('SIGTERM');
    await service.waitForEvent('shutdown-started');

    const readiness = await get(port, '/readyz');
    expect(readiness.status).toBe(503);
    expect(JSON.parse(readiness.body)).toEqual({ status: 'draining' });
    expect((await get(port, '/healthz')).status).toBe(200);

    const refusedAt = await expectRefused(port);
    const slowResults = await Promise.all(slow);
    const streamResult = await stream;
    // New connections were refused while the slow requests were still running.
    expect(refusedAt).toBeLessThan(Math.min(...slowResults.map((result) => result.finishedAt)));

    for (const result of slowResults) {
      expect(result.status).toBe(200);
      expect(JSON.parse(result.body)).toEqual({ ok: true, sleptMs: 10000 });
    }
    expect(streamResult.status).toBe(200);
    expect(streamResult.body.match(/event: tick/g)).toHaveLength(20);
    expect(streamResult.body).toContain('event: done');

    const exit = await service.exited;
    // Exit 0 means the whole shutdown ended within SHUTDOWN_TIMEOUT_MS (else: exit 1, 'shutdown-timeout').
    expect(exit.code).toBe(0);

    const all = events(service);
    const httpClosed = all.indexOf('http-closed');
    expect(all.indexOf('shutdown-started')).toBeLessThan(all.indexOf('slow-finished'));
    expect(all.lastIndexOf('slow-finished')).toBeLessThan(httpClosed);
    expect(all.indexOf('stream-finished')).toBeLessThan(httpClosed);
    const order = all.filter((event) =>
      [
        'shutdown-started',
        'http-closed',
        'fake-bus-released',
        'bus-drained',
        'fake-writer-released',
        'store-flushed',
        'fake-pool-released',
        'pool-closed',
        'telemetry-flushed',
        'shutdown-complete',
      ].includes(event),
    );
    expect(order).toEqual([
      'shutdown-started',
      'http-closed',
      'fake-bus-released',
      'bus-drained',
      'fake-writer-released',
      'store-flushed',
      'fake-pool-released',
      'pool-closed',
      'telemetry-flushed',
      'shutdown-complete',
    ]);
    expect(service.output()).not.toContain(SECRET);
  });

  it('carries trace ids from the http instrumentation into request log lines', async () => {
    const service = await start();
    await get(service.port, '/slow?ms=1');
    const line = await service.waitForEvent('slow-finished');
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
    service.kill('SIGINT');
    expect((await service.exited).code).toBe(0);
  });

  it('cuts a hung phase at its timeout, runs the later phases and exits 1', async () => {
    const service = await start({ BUSY_HANG_PHASE: 'store', BUSY_PHASE_TIMEOUT_MS: '400' });
    service.kill('SIGTERM');
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    const timeout = service.logs().find((entry) => entry.event === 'shutdown-phase-timeout');
    expect(timeout).toMatchObject({ phase: 'store', timeoutMs: 400, pending: ['fake-writer'] });
    const order = events(service).filter((event) =>
      [
        'bus-drained',
        'shutdown-phase-timeout',
        'pool-closed',
        'shutdown-complete',
        'shutdown-incomplete',
      ].includes(event),
    );
    expect(order).toEqual([
      'bus-drained',
      'shutdown-phase-timeout',
      'pool-closed',
      'shutdown-complete',
      'shutdown-incomplete',
    ]);
  });

  it('exits 1 with a log line when the whole shutdown exceeds SHUTDOWN_TIMEOUT_MS', async () => {
    const service = await start({
      BUSY_HANG_PHASE: 'bus',
      BUSY_PHASE_TIMEOUT_MS: '20000',
      SHUTDOWN_TIMEOUT_MS: '700',
    });
    const signalledAt = Date.now();
    service.kill('SIGTERM');
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - signalledAt).toBeGreaterThanOrEqual(600);
    expect(service.logs().find((entry) => entry.event === 'shutdown-timeout')).toMatchObject({
      level: 'fatal',
      timeoutMs: 700,
    });
    expect(events(service)).not.toContain('store-flushed');
  });

  it('exits 1 at once on a second signal', async () => {
    const service = await start({
      BUSY_HANG_PHASE: 'bus',
      BUSY_PHASE_TIMEOUT_MS: '20000',
      SHUTDOWN_TIMEOUT_MS: '20000',
    });
    service.kill('SIGTERM');
    await service.waitForEvent('fake-bus-hanging');
    service.kill('SIGINT');
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    expect(service.logs().find((entry) => entry.event === 'forced-exit')).toMatchObject({
      level: 'fatal',
      signal: 'SIGINT',
    });
  });

  it.each([
    ['an uncaught exception', '/crash', 'background job exploded'],
    ['an unhandled rejection', '/reject', 'nobody awaited this promise'],
  ])('logs %s, shuts down in the same order and exits 1', async (_kind, path, message) => {
    const service = await start();
    expect((await get(service.port, path)).status).toBe(200);
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    const fatal = service.logs().find((entry) => entry.event === 'uncaught-error');
    expect(fatal).toMatchObject({ level: 'fatal' });
    expect(JSON.stringify(fatal)).toContain(message);
    const order = events(service).filter((event) =>
      [
        'uncaught-error',
        'shutdown-started',
        'http-closed',
        'bus-drained',
        'store-flushed',
        'pool-closed',
      ].includes(event),
    );
    expect(order).toEqual([
      'uncaught-error',
      'shutdown-started',
      'http-closed',
      'bus-drained',
      'store-flushed',
      'pool-closed',
    ]);
  });

  it('refuses to start on invalid configuration: one fatal line naming every problem, no secret, exit 1', async () => {
    const service = await start({ BUSY_PORT: 'abc', LOG_FORMAT: 'yaml', BUSY_API_KEY: '' }, false);
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    const fatal = service.logs().find((entry) => entry.event === 'config-invalid');
    expect(fatal?.msg).toBe(
      "invalid configuration: LOG_FORMAT: must be one of json|pretty|auto (got 'yaml'); BUSY_PORT: must be an integer 0..65535 (got 'abc')",
    );
    expect(events(service)).not.toContain('http-listening');
  });
});
