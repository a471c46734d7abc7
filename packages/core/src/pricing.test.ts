import { describe, expect, it } from 'vitest';
import { Pricing } from './pricing.js';

describe('Pricing', () => {
  const pricing = new Pricing();

  it('prices dated and suffixed model names by their longest prefix', () => {
    expect(pricing.priceOf('gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, output: 0.6 });
    expect(pricing.priceOf('gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10 });
    expect(pricing.priceOf('claude-3-5-haiku-latest')).toEqual({ input: 0.8, output: 4 });
    expect(pricing.priceOf('openai/gpt-4.1-mini')).toEqual({ input: 0.4, output: 1.6 });
    expect(pricing.priceOf('gpt-4oo')).toBeUndefined();
    expect(pricing.priceOf('llama3:8b')).toBeUndefined();
  });

  it('computes cost in USD and lets a pricing file override defaults', () => {
    expect(pricing.costOf('gpt-4o-mini', 1_000_000, 1_000_000)).toBeCloseTo(0.75, 12);
    expect(pricing.costOf('unknown-model', 1000, 1000)).toBe(0);
    const custom = new Pricing(undefined, {
      'gpt-4o-mini': { input: 1, output: 1 },
      llama3: { input: 0, output: 0.1 },
    });
    expect(custom.costOf('gpt-4o-mini', 500_000, 500_000)).toBeCloseTo(1, 12);
    expect(custom.priceOf('llama3')).toEqual({ input: 0, output: 0.1 });
  });
});
