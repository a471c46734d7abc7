import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { CliFailure } from '../../errors.js';
import type { CliIO } from '../../io.js';

export interface NumberedLine {
  /** 1-based, counting every line of the input, blank ones included, so errors point at the right place. */
  number: number;
  text: string;
}

/** Opens a file, or stdin for `-`; a missing or unreadable file is a failure named after the path. */
export async function openInput(path: string, io: CliIO): Promise<Readable> {
  if (path === '-') return io.stdin;
  const stream = createReadStream(path);
  try {
    await once(stream, 'ready');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliFailure(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : String(error)}`);
  }
  return stream;
}

/** Lines as they arrive, numbered, without a BOM or a trailing CR; the input is never held in memory whole. */
export async function* numberedLines(input: Readable): AsyncGenerator<NumberedLine> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  try {
    for await (const raw of lines) {
      number++;
      const text = number === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      yield { number, text };
    }
  } finally {
    lines.close();
  }
}

const CSV_HEADER = /^\s*"?timestamp"?\s*,\s*"?value"?\s*$/i;

export function isSeriesHeader(line: string): boolean {
  return CSV_HEADER.test(line);
}
