import {
  type Bus,
  GATEWAY_BUCKET,
  type GatewayConfigEntry,
  gatewayKey,
  type KvBucket,
  type KvWatch,
  type Policy,
  type Provider,
  type Route,
} from '@immune/bus';
import type { PolicyEngine } from './policy/policy-engine.js';
import type { ProviderRegistry } from './routing/providers.js';

export interface BaseConfig {
  providers: readonly Provider[];
  routes: readonly Route[];
  policies: readonly Policy[];
}

/**
 * Providers, routes and policies as this replica applies them: the deployment's env config as a base layer,
 * with the `immune_gateway` KV entries (management API, healer cures) on top, by name. Every replica watches
 * the bucket, so a change applies everywhere at once.
 */
export class GatewayConfigStore {
  private readonly kvEntries = new Map<string, GatewayConfigEntry>();
  private bucket: KvBucket<GatewayConfigEntry> | undefined;
  private watch: KvWatch | undefined;

  constructor(
    private readonly base: BaseConfig,
    private readonly registry: ProviderRegistry,
    private readonly policies: PolicyEngine,
  ) {
    this.apply();
  }

  async start(bus: Bus): Promise<void> {
    this.bucket = await bus.kv(GATEWAY_BUCKET);
    this.watch = await this.bucket.watch((change) => {
      if (change.value === undefined) this.kvEntries.delete(change.key);
      else this.kvEntries.set(change.key, change.value);
      this.apply();
    });
    await this.watch.ready;
  }

  private apply(): void {
    const providers = new Map(this.base.providers.map((p) => [p.name, p]));
    const routes = new Map(this.base.routes.map((r) => [r.agent_id, r]));
    const policies = new Map(this.base.policies.map((p) => [p.id, p]));
    for (const entry of this.kvEntries.values()) {
      if (entry.kind === 'provider') providers.set(entry.provider.name, entry.provider);
      else if (entry.kind === 'route') routes.set(entry.route.agent_id, entry.route);
      else policies.set(entry.policy.id, entry.policy);
    }
    this.registry.setProviders([...providers.values()]);
    this.registry.setRoutes([...routes.values()]);
    this.policies.setPolicies([...policies.values()]);
  }

  private writable(): KvBucket<GatewayConfigEntry> {
    if (!this.bucket) throw new Error('gateway config store is not started');
    return this.bucket;
  }

  async putProvider(provider: Provider): Promise<void> {
    await this.writable().put(gatewayKey.provider(provider.name), { kind: 'provider', provider });
  }

  async deleteProvider(name: string): Promise<boolean> {
    const key = gatewayKey.provider(name);
    if (!this.kvEntries.has(key)) return false;
    await this.writable().delete(key);
    return true;
  }

  async putRoute(route: Route): Promise<void> {
    await this.writable().put(gatewayKey.route(route.agent_id), { kind: 'route', route });
  }

  async deleteRoute(agentId: string): Promise<boolean> {
    const key = gatewayKey.route(agentId);
    if (!this.kvEntries.has(key)) return false;
    await this.writable().delete(key);
    return true;
  }

  /** Whether a provider comes from the deployment's env (those cannot be deleted through the API). */
  isBaseProvider(name: string): boolean {
    return this.base.providers.some((p) => p.name === name);
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }
}
