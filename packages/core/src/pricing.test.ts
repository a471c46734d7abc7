import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPricing, Pricing } from './pricing.js';

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

describe('loadPricing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'immune-pricing-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is the built-in table without a file', () => {
    expect(loadPricing(undefined).priceOf('gpt-4o')).toEqual({ input: 2.5, output: 10 });
  });

  it('overrides and extends the built-in prices from the file', () => {
    const file = join(dir, 'prices.json');
    writeFileSync(
      file,
      JSON.stringify({ 'gpt-4o': { input: 1, output: 2 }, 'house-model': { input: 3, output: 4 } }),
    );
    const pricing = loadPricing(file);
    expect(pricing.priceOf('gpt-4o-2024-08-06')).toEqual({ input: 1, output: 2 });
    expect(pricing.priceOf('house-model')).toEqual({ input: 3, output: 4 });
    expect(pricing.priceOf('gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6 });
  });

  it('refuses an invalid file, naming the file and the offending entry', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ 'gpt-4o': { input: -1, output: 'ten' } }));
    expect(() => loadPricing(file)).toThrow(/bad\.json is invalid: .*gpt-4o/);
  });
});
