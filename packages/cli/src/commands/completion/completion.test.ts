import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { memoryIO } from '../../../test/fixtures.js';
import { run } from '../../cli.js';

async function script(shell: string): Promise<string> {
  const io = memoryIO();
  expect(await run(['completion', shell], io)).toBe(0);
  return io.out();
}

/** Completes `words` in a real bash with the generated script loaded; returns the candidates. */
function completeInBash(source: string, words: string[]): string[] {
  const program = `${source}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_immune; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['--norc', '-c', program], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('immune completion', () => {
  it('completes commands and each command’s flags in bash', async () => {
    const bash = await script('bash');
    expect(completeInBash(bash, ['immune', 'pe'])).toEqual(['pending']);
    expect(completeInBash(bash, ['immune', 'pending', '--to'])).toEqual(['--token']);
    expect(completeInBash(bash, ['immune', 'replay', '--min'])).toEqual(['--min-samples']);
    expect(completeInBash(bash, ['immune', 'keys', '--keep'])).toEqual(['--keep-old']);
  });

  it('writes a zsh script naming every command with its summary', async () => {
    const zsh = await script('zsh');
    expect(zsh.startsWith('#compdef immune\n')).toBe(true);
    for (const command of ['agents', 'pending', 'approve', 'keys', 'replay', 'completion'])
      expect(zsh).toMatch(new RegExp(`'${command}:`));
    expect(zsh).toContain('pending) flags=(');
  });

  it('refuses an unknown shell as a usage error', async () => {
    const io = memoryIO();
    expect(await run(['completion', 'fish'], io)).toBe(2);
    expect(io.err()).toContain('unknown shell "fish"');
  });
});
