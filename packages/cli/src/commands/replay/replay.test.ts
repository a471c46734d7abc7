import { describe, expect, it } from 'vitest';
import { fleetStream, memoryIO, seededRandom, toJsonl } from '../../../test/fixtures.js';
import { run } from '../../cli.js';

const spiking = toJsonl(
  fleetStream({
    agents: ['alpha', 'beta'],
    count: 50,
    spike: (agent, i) => (agent === 'alpha' && i >= 40 && i < 44 ? { latency_ms: 20_000 } : undefined),
  }),
);

describe('immune replay (vitals)', () => {
  it('prints the decisions where something happened and a per-agent summary', async () => {
    const io = memoryIO(spiking);
    expect(await run(['replay', '-'], io)).toBe(0);
    const out = io.out();
    expect(out).toMatch(/alpha {2}v\d+ {2}latency_spike [\d.]+σ {2}HEALTHY → SUSPECTED \(anomaly_detected/);
    // A severe anomaly escalates as soon as the fleet hold (10 s) shows it is not fleet-wide.
    expect(out).toMatch(/alpha {2}\(timer\) {2}SUSPECTED → DRAINING \(severe_anomaly/);
    expect(out).toMatch(/alpha {2}\(timer\) {2}DRAINING → QUARANTINED \(drained\)/);
    expect(out).toContain('summary: 100 vitals, 2 agents, 4 anomalies, 1 agent(s) quarantined');
    expect(out).toMatch(/alpha +50 +latency_spike×4 +- +4 +yes \(1×\) +QUARANTINED/);
    expect(out).toMatch(/beta +50 +- +- +1 +no +HEALTHY/);
    // Normal vitals get no line unless asked for.
    expect(out.split('\n').filter((l) => l.includes('  ok ')).length).toBe(0);
    const all = memoryIO(spiking);
    await run(['replay', '--all', '-'], all);
    expect(
      all
        .out()
        .split('\n')
        .filter((l) => l.includes('  ok ')).length,
    ).toBeGreaterThan(80);
  });

  it('backtests a threshold: a higher one quarantines no one', async () => {
    const mild = toJsonl(
      fleetStream({
        agents: ['alpha'],
        count: 50,
        spike: (_, i) => (i >= 40 && i < 44 ? { latency_ms: 1120 } : undefined),
      }),
    );
    const strict = memoryIO(mild);
    await run(['replay', '--threshold', '3', '-'], strict);
    expect(strict.out()).toContain('1 agent(s) quarantined');
    const lenient = memoryIO(mild);
    await run(['replay', '--threshold', '6', '--min-samples', '10', '-'], lenient);
    expect(lenient.out()).toContain('0 anomalies, 0 agent(s) quarantined');
    expect(lenient.out()).toContain('settings: threshold 6σ, min samples 10, severe 5σ');
  });

  it('writes JSON lines with --json, ending with the summary', async () => {
    const io = memoryIO(spiking);
    expect(await run(['replay', '--json', '--severe', '500', '-'], io)).toBe(0);
    const records = io
      .out()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string } & Record<string, unknown>);
    const summary = records.at(-1)!;
    expect(summary.type).toBe('summary');
    expect(summary.settings).toMatchObject({ severe_sigma: 500, min_samples: 15 });
    expect(summary.agents).toContainEqual(expect.objectContaining({ agent_id: 'alpha', quarantines: 1 }));
    // With severe at 500σ a 34σ spike only raises suspicion; the four spikes (sustained from the second) all
    // fall inside the 10 s fleet hold, and the suspicion is confirmed when it ends.
    const alpha = records.filter((r) => r.type === 'decision' && r.agent_id === 'alpha');
    expect(alpha.map((r) => r.state)).toEqual([
      'HEALTHY',
      'SUSPECTED',
      'SUSPECTED',
      'SUSPECTED',
      'SUSPECTED',
    ]);
    const timers = records.filter((r) => r.type === 'transition');
    expect(timers.map((r) => [r.to, r.trigger])).toEqual([
      ['DRAINING', 'suspicion_confirmed'],
      ['QUARANTINED', 'drained'],
    ]);
  });

  it('stops at the first invalid line, naming it, with exit 1', async () => {
    const lines = spiking.split('\n');
    const cases: Array<[string, RegExp]> = [
      ['{"id": ', /line 3: not valid JSON/],
      [
        JSON.stringify({ ...JSON.parse(lines[0]!), latency_ms: -1 }),
        /line 3: not a valid vital: \/latency_ms/,
      ],
      [JSON.stringify({ ...JSON.parse(lines[0]!), agent_id: undefined }), /line 3: .*\/agent_id is required/],
      [
        JSON.stringify({ ...JSON.parse(lines[0]!), colour: 'red' }),
        /line 3: .*\/colour is not a known field/,
      ],
    ];
    for (const [bad, message] of cases) {
      const io = memoryIO([lines[0], lines[1], bad, lines[2]].join('\n'));
      expect(await run(['replay', '-'], io)).toBe(1);
      expect(io.err()).toMatch(message);
    }
  });
});

function series(values: Array<number | ''>): string {
  return `timestamp,value\n${values.map((v, i) => `2026-01-01T00:${String(i % 60).padStart(2, '0')}:00Z,${v}`).join('\n')}\n`;
}

describe('immune replay (timestamp,value CSV)', () => {
  it('recognises the header and scores every row in order, in [0,1]', async () => {
    const random = seededRandom(9);
    const values = Array.from({ length: 120 }, (_, i) => (i === 100 ? 900 : Math.round(100 + 10 * random())));
    const io = memoryIO(series(values));
    expect(await run(['replay', '-'], io)).toBe(0);
    const [header, ...rows] = io.out().trim().split('\n');
    expect(header).toBe('timestamp,value,anomaly_score,alarm');
    expect(rows).toHaveLength(values.length);
    const alarms = rows.flatMap((row, i) => (row.endsWith(',1') ? [i] : []));
    expect(alarms).toEqual([100]);
    const scores = rows.map((row, i) => {
      const [ts, value, score] = row.split(',');
      expect(ts).toBe(`2026-01-01T00:${String(i % 60).padStart(2, '0')}:00Z`);
      expect(Number(value)).toBe(values[i]);
      return Number(score);
    });
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores[100]).toBeGreaterThan(0.95);
    expect(scores.filter((s) => s >= 0.5)).toHaveLength(1);
  });

  it('keeps gaps as rows scoring 0 and skips blank lines', async () => {
    const io = memoryIO(`${series([1, 2, '', 3])}\n\n`);
    expect(await run(['replay', '--csv', '-'], io)).toBe(0);
    expect(io.out().trim().split('\n').slice(1)).toEqual([
      '2026-01-01T00:00:00Z,1,0,0',
      '2026-01-01T00:01:00Z,2,0,0',
      '2026-01-01T00:02:00Z,,0,0',
      '2026-01-01T00:03:00Z,3,0,0',
    ]);
  });

  it('applies --threshold and --min-samples to the scorer', async () => {
    const values = [...Array.from({ length: 20 }, (_, i) => 100 + (i % 3)), 140];
    const low = memoryIO(series(values));
    await run(['replay', '--threshold', '2', '--min-samples', '5', '-'], low);
    const high = memoryIO(series(values));
    // 140 is ~49σ raw against 100..102, ~9σ-equivalent on a 20-sample Student-t tail.
    await run(['replay', '--threshold', '20', '-'], high);
    const last = (text: string) => Number(text.trim().split('\n').at(-1)!.split(',')[2]);
    expect(last(low.out())).toBeGreaterThan(0.5);
    expect(last(high.out())).toBeLessThan(0.5);
  });

  it('names the line of a bad row, and rejects vitals-only options', async () => {
    const bad = memoryIO('timestamp,value\n1,2\n2,abc\n');
    expect(await run(['replay', '-'], bad)).toBe(1);
    expect(bad.err()).toContain('line 3: value "abc" is not a number');
    const extra = memoryIO('timestamp,value\n1,2,3\n');
    expect(await run(['replay', '-'], extra)).toBe(1);
    expect(extra.err()).toContain('line 2: expected 2 fields');
    const noHeader = memoryIO('ts,v\n1,2\n');
    expect(await run(['replay', '--csv', '-'], noHeader)).toBe(1);
    expect(noHeader.err()).toContain('line 1: expected the CSV header');
    const json = memoryIO(series([1]));
    expect(await run(['replay', '--json', '-'], json)).toBe(2);
    expect(json.err()).toContain('--json applies to vitals');
  });
});
