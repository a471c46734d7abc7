import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/** The streams a command talks to; tests pass their own instead of the process's. */
export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Whether stdin is an interactive terminal (then a missing input file is a usage error, not a wait). */
  stdinIsTTY: boolean;
}

export function processIO(): CliIO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
  };
}

const FLUSH_AT = 64 * 1024;

/**
 * Collects output lines into large writes and waits for 'drain' when the reader is slower than we are, so a
 * replay of millions of vitals into `less` or a pipe keeps memory flat.
 */
export class LineWriter {
  private buffer = '';

  constructor(private readonly stream: Writable) {}

  /** Queues one line; true when the caller should `await flush()` before queueing more. */
  line(text: string): boolean {
    this.buffer += `${text}\n`;
    return this.buffer.length >= FLUSH_AT;
  }

  async flush(): Promise<void> {
    if (this.buffer === '') return;
    const chunk = this.buffer;
    this.buffer = '';
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }
}
