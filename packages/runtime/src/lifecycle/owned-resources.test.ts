import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging/create-logger.js';
import { ownBus, ownStore } from './owned-resources.js';
import { Readiness } from './readiness.js';
import { ShutdownSequence } from './shutdown-sequence.js';

describe('ownBus and ownStore', () => {
  it('drain the bus before closing the store, and readiness follows the bus', async () => {
    const logger = createLogger({ service: 'test', level: 'silent' });
    const shutdown = new ShutdownSequence({ logger });
    const readiness = new Readiness();
    const ran: string[] = [];
    const bus = {
      status: 'connected',
      async drain() {
        ran.push('bus');
        this.status = 'closed';
      },
    };
    const store = { close: async () => void ran.push('store') };
    expect(ownStore({ shutdown, readiness }, store)).toBe(store);
    expect(ownBus({ shutdown, readiness }, bus)).toBe(bus);
    readiness.markReady();
    expect((await readiness.report()).ready).toBe(true);
    await shutdown.run('test');
    expect(ran).toEqual(['bus', 'store']);
    expect((await readiness.report()).checks).toEqual({ bus: 'failing' });
  });
});
