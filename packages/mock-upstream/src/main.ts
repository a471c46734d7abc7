import { MockUpstream } from './server.js';

/** Runs the mock alone: `MOCK_UPSTREAM_PORT=4500 pnpm --filter @immune/mock-upstream start`. */
const port = Number(process.env.MOCK_UPSTREAM_PORT ?? 4500);
const mock = await MockUpstream.start({
  port,
  host: process.env.MOCK_UPSTREAM_HOST ?? '127.0.0.1',
  record: 0,
});
console.log(JSON.stringify({ msg: 'mock upstream listening', url: mock.url }));
const stop = () => void mock.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
