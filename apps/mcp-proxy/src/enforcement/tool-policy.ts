import { type Bus, GATEWAY_BUCKET, type KvWatch, type Policy, policyApplies } from '@immune/bus';
import { PROXY_ERROR } from '../jsonrpc.js';
import { TokenBuckets } from './token-buckets.js';

/** Why a `tools/call` is refused: the JSON-RPC error the agent gets names the rule and the policy. */
export interface Refusal {
  code: number;
  rule: string;
  policy: string;
  message: string;
}

/**
 * The tool rules of the gateway policies (`immune_gateway` bucket, per agent, per key or global), applied to MCP
 * tool calls: `strip_tools` (the healer's "revoke tools" cure) and `block` refuse every call, `deny_tools` and
 * `allow_tools` refuse by name (deny wins), `tool_calls_per_minute` (and per-tool overrides) limit each tool's
 * calls per agent. Limits are counted on each replica. Every replica watches the bucket, so a cure applies from the
 * next call.
 */
export class ToolPolicy {
  private policies: Policy[] = [];
  private readonly entries = new Map<string, Policy>();
  private readonly rates = new TokenBuckets();
  private watch: KvWatch | undefined;

  async start(bus: Bus): Promise<void> {
    const bucket = await bus.kv(GATEWAY_BUCKET);
    this.watch = await bucket.watch((change) => {
      if (change.value?.kind === 'policy') this.entries.set(change.key, change.value.policy);
      else this.entries.delete(change.key);
      this.policies = [...this.entries.values()];
    });
    await this.watch.ready;
  }

  /** For tests and single-process wiring: the policies in force. */
  setPolicies(policies: readonly Policy[]): void {
    this.entries.clear();
    for (const [i, policy] of policies.entries()) this.entries.set(String(i), policy);
    this.policies = [...policies];
  }

  /** The refusal of this call, or undefined when it may go. A permitted call counts against its limits. */
  check(agentId: string, keyFingerprint: string | undefined, tool: string, now: number): Refusal | undefined {
    if (this.policies.length === 0) return undefined;
    const applicable = this.policies.filter((p) => policyApplies(p, agentId, keyFingerprint, now));
    for (const policy of applicable) {
      const { rules } = policy;
      if (rules.block === true)
        return refuse(PROXY_ERROR.toolRefused, 'block', policy, 'every call of this agent is blocked');
      if (rules.strip_tools === true)
        return refuse(PROXY_ERROR.toolRefused, 'strip_tools', policy, 'tools are revoked for this agent');
      if (rules.deny_tools?.includes(tool))
        return refuse(PROXY_ERROR.toolRefused, 'deny_tools', policy, `tool ${tool} is denied`);
      if (rules.allow_tools !== undefined && !rules.allow_tools.includes(tool))
        return refuse(
          PROXY_ERROR.toolRefused,
          'allow_tools',
          policy,
          `tool ${tool} is not in the allow-list`,
        );
    }
    const limits = applicable.flatMap((policy) => {
      const limit = policy.rules.tool_calls_per_minute_by_tool?.[tool] ?? policy.rules.tool_calls_per_minute;
      return limit === undefined ? [] : [{ policy, limit, key: `${policy.id}\0${agentId}\0${tool}` }];
    });
    for (const { policy, limit, key } of limits) {
      if (!this.rates.available(key, limit, now))
        return refuse(
          PROXY_ERROR.toolRateLimited,
          'tool_calls_per_minute',
          policy,
          `tool ${tool} is limited to ${limit} calls per minute`,
        );
    }
    for (const { limit, key } of limits) this.rates.take(key, limit, now);
    return undefined;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }
}

function refuse(code: number, rule: string, policy: Policy, what: string): Refusal {
  return { code, rule, policy: policy.id, message: `refused by policy ${policy.id} (${rule}): ${what}` };
}
