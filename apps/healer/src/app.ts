import type { HttpPlugin } from '@immune/runtime';

/**
 * The healer's HTTP surface beyond what the runtime serves on every service (`/healthz`, `/readyz`,
 * `/metrics`): none. Operators reach it through the `immune.cmd.healer.*` bus commands (`commands.ts`), which
 * the CLI and the dashboard send. Routes of its own would be registered here.
 */
export const healerApp: HttpPlugin = async () => {};
