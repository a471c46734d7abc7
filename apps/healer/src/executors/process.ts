import type { ActionResult, Enforcer, HealingExecutor } from './types.js';
import { errorText } from './types.js';

/**
 * Local agents only: signals to the PID an agent registered. `restart` is SIGTERM (its supervisor starts it
 * again); quarantine enforcement is SIGSTOP, release SIGCONT.
 */
export function createProcessExecutor(): HealingExecutor {
  return {
    name: 'process',
    supports: (action, agent) => action === 'restart' && agent.pid !== null,
    async apply(request): Promise<ActionResult> {
      const pid = request.agent.pid;
      if (pid === null) return { ok: false, unavailable: true, detail: 'the agent registered no PID' };
      return signal(pid, 'SIGTERM');
    },
  };
}

export function createProcessEnforcer(): Enforcer {
  return {
    name: 'process',
    async hold(agent) {
      if (agent.pid === null) return;
      const result = signal(agent.pid, 'SIGSTOP');
      if (!result.ok) throw new Error(result.detail);
    },
    async lift(agent) {
      if (agent.pid === null) return;
      const result = signal(agent.pid, 'SIGCONT');
      if (!result.ok) throw new Error(result.detail);
    },
  };
}

function signal(pid: number, name: NodeJS.Signals): ActionResult {
  // PIDs 0 and negative address process groups, 1 is init: never a registered agent.
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid)
    return { ok: false, unavailable: true, detail: `refusing to signal PID ${pid}` };
  try {
    process.kill(pid, name);
    return { ok: true, detail: `${name} sent to PID ${pid}` };
  } catch (error) {
    return { ok: false, detail: `${name} to PID ${pid} failed: ${errorText(error)}` };
  }
}
