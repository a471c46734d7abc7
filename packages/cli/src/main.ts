import { run } from './cli.js';
import { processIO } from './io.js';

// A reader that goes away early (`immune replay big.jsonl | head`) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2), processIO());
