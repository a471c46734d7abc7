import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fleetStream, toJsonl } from '../test/fixtures.js';

const bin = fileURLToPath(new URL('../bin/immune.js', import.meta.url));

/** Runs the real `immune` executable; from source, so a stale build can never be what is tested. */
function immune(
  args: string[],
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, IMMUNE_CLI_FROM_SOURCE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const dir = mkdtempSync(join(tmpdir(), 'immune-cli-'));

// Each run starts node + tsx on the sources, which takes a second or two on a busy machine.
describe('the immune bin', { timeout: 30_000 }, () => {
  it('replays a vitals file', async () => {
    const file = join(dir, 'vitals.jsonl');
    writeFileSync(
      file,
      toJsonl(
        fleetStream({
          agents: ['alpha', 'beta'],
          count: 40,
          spike: (agent, i) =>
            agent === 'beta' && i >= 30 ? { success: false, error_type: 'server' } : undefined,
        }),
      ),
    );
    const { code, stdout, stderr } = await immune(['replay', file]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('error_rate_spike');
    expect(stdout).toMatch(/beta +40 .*yes \(1×\) +QUARANTINED/);
  });

  it('scores a large CSV from stdin, one output row per input row', async () => {
    const rows = 50_000;
    const input = [
      'timestamp,value',
      ...Array.from({ length: rows }, (_, i) => `${i},${100 + (i % 7)}`),
    ].join('\n');
    const { code, stdout } = await immune(['replay', '-'], `${input}\n`);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score,alarm');
    expect(lines).toHaveLength(rows + 1);
    expect(lines.at(-1)).toMatch(new RegExp(`^${rows - 1},${100 + ((rows - 1) % 7)},0(\\.\\d+)?,0$`));
  });

  it('exits 2 on a usage error and 1 on an invalid line', async () => {
    const [usage, invalid, help] = await Promise.all([
      immune(['replay', '--threshold']),
      immune(['replay', '-'], '{"id":"x"}\n'),
      immune(['--help']),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('immune replay --help');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/line 1: not a valid vital/);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('replay');
  });
});
