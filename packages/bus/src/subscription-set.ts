import type { Subscription } from './bus.js';

/**
 * The subscriptions a bus has open. `track` wraps a stop procedure so it runs once however often `stop` is
 * called, and forgets the subscription when done; `stopAll` is what `drain` needs.
 */
export class SubscriptionSet {
  private readonly open = new Set<Subscription>();

  track(stop: () => Promise<void>): Subscription {
    let stopped: Promise<void> | undefined;
    const subscription: Subscription = {
      stop: () => {
        stopped ??= stop().finally(() => this.open.delete(subscription));
        return stopped;
      },
    };
    this.open.add(subscription);
    return subscription;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.open].map((s) => s.stop()));
  }
}
