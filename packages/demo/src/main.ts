import './telemetry.js';

import { rmSync } from 'node:fs';
import { loadConfigOrExit, runMain } from '@immune/runtime';
import { DEFAULT_PGLITE_DATA_DIR } from '@immune/store';
import { SingleProcessEnv } from './config.js';
import { startSingleProcess } from './single-process.js';
import { timeline } from './story.js';
import { telemetry } from './telemetry.js';

/**
 * `pnpm start`: every Immune service in one process. With no NATS_URL / DATABASE_URL, on the embedded bus and
 * PGlite in .immune-data/, with a mock LLM upstream, a demo fleet and a chaos schedule, telling the story of
 * the immune loop on the console.
 */
const config = loadConfigOrExit(SingleProcessEnv, { service: 'immune' });
const print = (line: string) => process.stdout.write(`${line}\n`);
const say = timeline(print);

const freshDemo =
  config.DEMO &&
  !config.DEMO_KEEP_DATA &&
  config.DATABASE_URL === undefined &&
  config.IMMUNE_DATA_DIR === DEFAULT_PGLITE_DATA_DIR;
if (freshDemo) rmSync(config.IMMUNE_DATA_DIR, { recursive: true, force: true });

const running = await runMain({
  name: 'immune',
  schema: SingleProcessEnv,
  config,
  telemetry,
  async start(context) {
    const system = await startSingleProcess(context, { config, env: process.env, metrics: telemetry, say });
    const bus = config.NATS_URL ? `NATS at ${config.NATS_URL}` : 'the embedded bus';
    const store = config.DATABASE_URL
      ? 'PostgreSQL'
      : `PGlite in ${config.IMMUNE_DATA_DIR}${freshDemo ? ' (emptied for this run; DEMO_KEEP_DATA=1 keeps it)' : ''}`;
    print('');
    print(`Immune is running in one process on ${bus} and ${store}.`);
    print(
      `  gateway   ${system.gatewayUrl}/v1   (point an agent here: OPENAI_BASE_URL=${system.gatewayUrl}/v1)`,
    );
    print(
      system.dashboardToken === undefined
        ? `  dashboard ${system.dashboardUrl}   (log in with one of your IMMUNE_OPERATOR_TOKENS' tokens)`
        : `  dashboard ${system.dashboardUrl}   log in with this operator token (made for this run; also IMMUNE_OPERATOR_TOKEN for pnpm immune):\n            ${system.dashboardToken}`,
    );
    if (system.mock) print(`  mock LLM  ${system.mock.url}/v1   (the demo fleet's provider)`);
    if (system.fleet.length > 0)
      print(`  fleet     ${system.fleet.length} agents: ${system.fleet.map((agent) => agent.id).join(', ')}`);
    print(config.DEMO ? '  Ctrl-C stops it cleanly.\n' : '  DEMO=0: no fleet, no chaos. Ctrl-C stops it.\n');
  },
});

if (config.RUN_DURATION_SECONDS > 0) {
  setTimeout(() => {
    void running.stop('RUN_DURATION_SECONDS elapsed');
  }, config.RUN_DURATION_SECONDS * 1000).unref();
}
