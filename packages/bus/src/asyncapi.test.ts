import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAsyncApi } from './asyncapi.js';
import { EVENT_TYPES } from './messages.js';

describe('AsyncAPI document', () => {
  it('is up to date in docs/asyncapi.json (regenerate: pnpm --filter @immune/bus asyncapi)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../../docs/asyncapi.json', import.meta.url), 'utf8'),
    );
    expect(committed).toEqual(buildAsyncApi());
  });

  it('describes every event type and the vitals channel', () => {
    const doc = buildAsyncApi() as { channels: Record<string, { address: string }> };
    expect(doc.channels.vitals!.address).toBe('{prefix}.vitals.{partition}.{agent}');
    for (const type of EVENT_TYPES) {
      expect(doc.channels[type.replace('.', '_')]!.address).toBe(`{prefix}.events.${type}.{agent}`);
    }
  });
});
