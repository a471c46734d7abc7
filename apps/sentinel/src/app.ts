import type { HttpPlugin } from '@immune/runtime';

/**
 * The sentinel's HTTP surface beyond what the runtime serves on every service (`/healthz`, `/readyz`,
 * `/metrics`): none. Its interface is the bus: vitals in, events and quarantine entries out, and the
 * `immune.cmd.sentinel.*` commands. Routes of its own would be registered here.
 */
export const sentinelApp: HttpPlugin = async () => {};
