import type { ServiceContext } from './run-service.js';

type Lifecycle = Pick<ServiceContext, 'shutdown' | 'readiness'>;

/** What the lifecycle needs of a bus; structural, so runtime does not depend on `@immune/bus`. */
export interface DrainableBus {
  drain(): Promise<void>;
  readonly status: string;
}

/** Gives a service's bus to its lifecycle: drained in the bus phase, and not ready once it is closed. */
export function ownBus<B extends DrainableBus>(context: Lifecycle, bus: B): B {
  context.shutdown.onBusDrain(() => bus.drain(), 'bus');
  context.readiness.addCheck('bus', () => bus.status !== 'closed');
  return bus;
}

/** Gives a service's store to its lifecycle: closed in the pool phase, after the bus has drained. */
export function ownStore<S extends { close(): Promise<void> }>(context: Lifecycle, store: S): S {
  context.shutdown.onPoolClose(() => store.close(), 'store');
  return store;
}
