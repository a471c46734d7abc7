import { readFileSync } from 'node:fs';
import Type, { type Static } from 'typebox';
import { compileChecker } from './schema.js';

/** USD per million tokens. Cached-input prices are optional; when absent, cached tokens cost the input price. */
export const ModelPrice = Type.Object(
  {
    input: Type.Number({ minimum: 0 }),
    output: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ModelPrice = Static<typeof ModelPrice>;

export const PricingTable = Type.Record(Type.String({ minLength: 1 }), ModelPrice);
export type PricingTable = Static<typeof PricingTable>;

/**
 * The pricing file every service that prices calls reads (the gateway for proxied calls, ingest for OTLP spans),
 * so a span and a proxied call of the same model cost the same.
 */
export const PricingEnv = {
  /** JSON `{ "model-prefix": { "input": usd_per_1M, "output": usd_per_1M } }` overriding the built-in prices. */
  GATEWAY_PRICING_FILE: Type.Optional(Type.String({ minLength: 1 })),
};

/** The built-in prices, overridden by the pricing file when one is given; an invalid file stops the start. */
export function loadPricing(file: string | undefined): Pricing {
  if (!file) return new Pricing();
  const checker = compileChecker(PricingTable);
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!checker.check(parsed)) {
    const issues = checker
      .issues(parsed)
      .map((i) => `${i.path} ${i.message}`)
      .join('; ');
    throw new Error(`GATEWAY_PRICING_FILE ${file} is invalid: ${issues}`);
  }
  return new Pricing(undefined, parsed);
}

/**
 * List prices (USD per 1M tokens) of common models, as published by the providers in 2025. They are defaults
 * only: operators override or extend them with a pricing file (GATEWAY_PRICING_FILE), since contracts,
 * regions and new models change the numbers.
 */
export const DEFAULT_PRICING: PricingTable = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4-turbo': { input: 10, output: 30 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  o1: { input: 15, output: 60 },
  o3: { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'text-embedding-ada-002': { input: 0.1, output: 0 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-3-5-sonnet': { input: 3, output: 15 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-3-opus': { input: 15, output: 75 },
  'claude-3-haiku': { input: 0.25, output: 1.25 },
};

/**
 * Finds a model's price by the longest matching prefix, because providers answer with dated or suffixed
 * names (`gpt-4o-mini-2024-07-18`, `claude-3-5-haiku-latest`) and `gpt-4o-mini` must not be priced as
 * `gpt-4o`. A provider prefix such as `openai/` is ignored. Results are cached per model name.
 */
export class Pricing {
  private readonly prefixes: Array<[string, ModelPrice]>;
  private readonly cache = new Map<string, ModelPrice | undefined>();

  constructor(table: PricingTable = DEFAULT_PRICING, overrides: PricingTable = {}) {
    const merged = { ...table, ...overrides };
    this.prefixes = Object.entries(merged)
      .map(([model, price]): [string, ModelPrice] => [model.toLowerCase(), price])
      .sort((a, b) => b[0].length - a[0].length);
  }

  priceOf(model: string | undefined): ModelPrice | undefined {
    if (!model) return undefined;
    if (this.cache.has(model)) return this.cache.get(model);
    const name = model.toLowerCase().replace(/^[a-z0-9-]+\//, '');
    const found = this.prefixes.find(
      ([prefix]) => name === prefix || name.startsWith(`${prefix}-`) || name.startsWith(`${prefix}@`),
    );
    const price = found?.[1];
    if (this.cache.size < 10_000) this.cache.set(model, price);
    return price;
  }

  /** USD for one call; 0 for a model with no known price (the gateway counts those in a metric). */
  costOf(model: string | undefined, inputTokens: number, outputTokens: number): number {
    const price = this.priceOf(model);
    if (!price) return 0;
    return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
  }
}
