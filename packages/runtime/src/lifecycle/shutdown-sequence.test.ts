import { describe, expect, it } from 'vitest';
import { captureLogs } from '../testing.js';
import { ShutdownSequence } from './shutdown-sequence.js';

function sequence(options: Partial<ConstructorParameters<typeof ShutdownSequence>[0]> = {}) {
  const logs = captureLogs();
  return { logs, shutdown: new ShutdownSequence({ logger: logs.logger, ...options }) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ShutdownSequence', () => {
  it('runs the phases in the fixed order, whatever the registration order', async () => {
    const { shutdown, logs } = sequence();
    const ran: string[] = [];
    shutdown.onTelemetryShutdown(() => void ran.push('telemetry'));
    shutdown.onPoolClose(() => void ran.push('pool'));
    shutdown.onStoreFlush(async () => {
      await sleep(10);
      ran.push('store');
    });
    shutdown.onBusDrain(() => void ran.push('bus'));
    shutdown.onStopWork(() => void ran.push('work'));
    shutdown.onHttpClose(async () => {
      await sleep(10);
      ran.push('http');
    });
    const report = await shutdown.run('SIGTERM');
    expect(ran).toEqual(['http', 'work', 'bus', 'store', 'pool', 'telemetry']);
    expect(report.ok).toBe(true);
    const events = logs
      .entries()
      .map((entry) => entry.event)
      .filter(Boolean);
    expect(events).toEqual([
      'shutdown-started',
      'http-closed',
      'work-stopped',
      'bus-drained',
      'store-flushed',
      'pool-closed',
      'telemetry-flushed',
      'shutdown-complete',
    ]);
  });

  it('signals draining and calls onDraining before any phase', async () => {
    const order: string[] = [];
    const { shutdown } = sequence({ onDraining: () => order.push('draining') });
    shutdown.onHttpClose(() => void order.push(`http (draining signal: ${shutdown.draining.aborted})`));
    expect(shutdown.draining.aborted).toBe(false);
    const running = shutdown.run('SIGINT');
    expect(shutdown.draining.aborted).toBe(true);
    expect(order[0]).toBe('draining');
    await running;
    expect(order).toEqual(['draining', 'http (draining signal: true)']);
  });

  it('waits the drain delay between readiness dropping and the first phase', async () => {
    const { shutdown } = sequence({ drainDelayMs: 120 });
    let httpStartedAt = 0;
    shutdown.onHttpClose(() => {
      httpStartedAt = Date.now();
    });
    const startedAt = Date.now();
    await shutdown.run('SIGTERM');
    expect(httpStartedAt - startedAt).toBeGreaterThanOrEqual(110);
  });

  it('logs a failing hook, keeps running the other hooks and phases, and reports failure', async () => {
    const { shutdown, logs } = sequence();
    const ran: string[] = [];
    shutdown.onBusDrain(() => {
      throw new Error('nats connection lost');
    }, 'nats');
    shutdown.onBusDrain(() => void ran.push('other bus hook'));
    shutdown.onStoreFlush(() => void ran.push('store'));
    const report = await shutdown.run('SIGTERM');
    expect(ran).toEqual(['other bus hook', 'store']);
    expect(report.ok).toBe(false);
    expect(report.phases.find((phase) => phase.phase === 'bus')?.outcome).toBe('failed');
    const failure = logs.find('shutdown hook nats failed');
    expect(failure).toMatchObject({ level: 'error', phase: 'bus', hook: 'nats' });
    expect(JSON.stringify(failure)).toContain('nats connection lost');
    expect(logs.find('store-flushed')).toBeDefined();
  });

  it('cuts a hung phase at its timeout, aborts its signal and goes on', async () => {
    const { shutdown, logs } = sequence({ phaseTimeoutsMs: { store: 80 } });
    let aborted = false;
    shutdown.onStoreFlush(
      (signal) =>
        new Promise<void>(() => {
          signal.addEventListener('abort', () => {
            aborted = true;
          });
        }),
      'vitals-writer',
    );
    let poolClosed = false;
    shutdown.onPoolClose(() => {
      poolClosed = true;
    });
    const startedAt = Date.now();
    const report = await shutdown.run('SIGTERM');
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(aborted).toBe(true);
    expect(poolClosed).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.phases.find((phase) => phase.phase === 'store')?.outcome).toBe('timed-out');
    expect(logs.find('shutdown-phase-timeout')).toMatchObject({ phase: 'store', pending: ['vitals-writer'] });
  });

  it('runs once: a second run returns the same report', async () => {
    const { shutdown } = sequence();
    let calls = 0;
    shutdown.onPoolClose(() => {
      calls += 1;
    });
    const [first, second] = await Promise.all([shutdown.run('SIGTERM'), shutdown.run('SIGINT')]);
    expect(second).toBe(first);
    expect(first.reason).toBe('SIGTERM');
    expect(calls).toBe(1);
  });

  it('skips unregistered hooks and runs hooks registered after their phase at once', async () => {
    const { shutdown } = sequence();
    let storeCalls = 0;
    const unregister = shutdown.onStoreFlush(() => {
      storeCalls += 1;
    });
    unregister();
    let late = false;
    shutdown.onTelemetryShutdown(async () => {
      shutdown.onHttpClose(() => {
        late = true;
      });
    });
    await shutdown.run('SIGTERM');
    expect(storeCalls).toBe(0);
    expect(late).toBe(true);
  });
});
