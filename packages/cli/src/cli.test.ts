import { describe, expect, it } from 'vitest';
import { memoryIO } from '../test/fixtures.js';
import { run } from './cli.js';

describe('immune', () => {
  it('prints the command list on --help and exits 0', async () => {
    const io = memoryIO();
    expect(await run(['--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: immune <command>');
    expect(io.out()).toMatch(/replay\s+backtest detection/);
  });

  it('prints a command help with `help <command>` and `<command> --help`', async () => {
    for (const argv of [
      ['help', 'replay'],
      ['replay', '--help'],
      ['replay', '-h'],
    ]) {
      const io = memoryIO();
      expect(await run(argv, io)).toBe(0);
      expect(io.out()).toContain('immune replay <vitals.jsonl | ->');
    }
  });

  it('exits 2 with a hint on no command, an unknown command or option, or a bad value', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: immune/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['replay', '--bogus', 'x.jsonl'], /Unknown option '--bogus'/],
      [['replay', '--threshold', 'abc', 'x.jsonl'], /--threshold must be a positive number, got "abc"/],
      [['replay', '--min-samples', '2.5', 'x.jsonl'], /--min-samples must be a whole number/],
      [['replay', 'a.jsonl', 'b.jsonl'], /expected one input file, got 2/],
    ];
    for (const [argv, message] of cases) {
      const io = memoryIO();
      expect(await run(argv, io), argv.join(' ')).toBe(2);
      expect(io.err()).toMatch(message);
    }
  });

  it('asks for an input instead of waiting on an interactive terminal', async () => {
    const io = { ...memoryIO(), stdinIsTTY: true };
    expect(await run(['replay'], io)).toBe(2);
  });

  it('exits 1 naming the file when it cannot be read', async () => {
    const io = memoryIO();
    expect(await run(['replay', '/nonexistent/vitals.jsonl'], io)).toBe(1);
    expect(io.err()).toContain('cannot read /nonexistent/vitals.jsonl: no such file');
  });
});
