import { execFile } from 'node:child_process';
import type { Logger } from '@immune/runtime';
import type { ActionResult, AgentTarget, ContainerTarget, Enforcer, HealingExecutor } from './types.js';

export interface ContainerOptions {
  dockerBin: string;
  kubectlBin: string;
  dryRun: boolean;
  timeoutMs: number;
  logger?: Logger;
  /** Environment of the commands (PATH finds the binaries); the healer's own by default. */
  env?: NodeJS.ProcessEnv;
}

type Verb = 'restart' | 'pause' | 'unpause';

/** The command line for a verb on a target: a binary and an argument array, never a shell string. */
export function containerCommand(
  target: ContainerTarget,
  verb: Verb,
  options: Pick<ContainerOptions, 'dockerBin' | 'kubectlBin'>,
): { bin: string; args: string[] } {
  if (target.runtime === 'docker') return { bin: options.dockerBin, args: [verb, '--', target.name] };
  const scope = [
    ...(target.context === undefined ? [] : ['--context', target.context]),
    ...(target.namespace === undefined ? [] : ['--namespace', target.namespace]),
  ];
  const resource = `deployment/${target.deployment}`;
  switch (verb) {
    case 'restart':
      return { bin: options.kubectlBin, args: [...scope, 'rollout', 'restart', resource] };
    case 'pause':
      return { bin: options.kubectlBin, args: [...scope, 'scale', resource, '--replicas=0'] };
    case 'unpause':
      return {
        bin: options.kubectlBin,
        args: [...scope, 'scale', resource, `--replicas=${target.replicas ?? 1}`],
      };
  }
}

function run(options: ContainerOptions, target: ContainerTarget, verb: Verb): Promise<ActionResult> {
  const { bin, args } = containerCommand(target, verb, options);
  const line = [bin, ...args].join(' ');
  if (options.dryRun) {
    options.logger?.info({ event: 'container-dry-run', bin, args }, `dry run: ${line}`);
    return Promise.resolve({ ok: true, detail: `dry run: ${line}` });
  }
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { timeout: options.timeoutMs, env: options.env ?? process.env, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const why = stderr.trim().slice(0, 300) || error.message;
          resolve({ ok: false, detail: `${line} failed: ${why}` });
        } else {
          resolve({ ok: true, detail: `${line}: ${stdout.trim().slice(0, 200)}` });
        }
      },
    );
  });
}

/** `restart` of a registered container: docker restart, or a kubectl rollout restart of its deployment. */
export function createContainerExecutor(options: ContainerOptions): HealingExecutor {
  return {
    name: 'container',
    supports: (action, agent) => action === 'restart' && agent.container !== null,
    async apply(request): Promise<ActionResult> {
      if (request.agent.container === null)
        return { ok: false, unavailable: true, detail: 'the agent registered no container' };
      return run(options, request.agent.container, 'restart');
    },
  };
}

/** Quarantine enforcement: docker pause / unpause, or scale the deployment to 0 and back. */
export function createContainerEnforcer(options: ContainerOptions): Enforcer {
  const apply = async (agent: AgentTarget, verb: Verb) => {
    if (agent.container === null) return;
    const result = await run(options, agent.container, verb);
    if (!result.ok) throw new Error(result.detail);
  };
  return {
    name: 'container',
    hold: (agent) => apply(agent, 'pause'),
    lift: (agent) => apply(agent, 'unpause'),
  };
}
