import { parseArgs } from 'node:util';
import {
  type DecisionReply,
  HEALER_AGENTS,
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_QUARANTINE,
  HEALER_REJECT,
  HEALER_RELEASE,
} from '@immune/bus';
import { DIAGNOSIS_TYPES, type DiagnosisType } from '@immune/core';
import { EXIT_OK, UsageError } from '../../errors.js';
import type { CliIO } from '../../io.js';
import type { Command } from '../command.js';
import { BUS_HELP, BUS_OPTIONS, operatorOf, printJson, table, timeoutOf, withBus } from './bus.js';

/**
 * The operator commands: thin wrappers around `immune.cmd.healer.*`, so the CLI, the dashboard and scripts
 * share one implementation of every decision (the healer's).
 */

function parse<O extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(
  args: string[],
  extra: O,
) {
  try {
    return parseArgs({ args, options: { ...BUS_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export const agentsCommand: Command = {
  name: 'agents',
  summary: 'the fleet: each agent, its lifecycle state, quarantine and open case',
  help: `Usage: immune agents [options]\n\n${BUS_HELP}`,
  async run(args, io) {
    const { values } = parse(args, {});
    if (values.help) return help(io, this.help);
    const reply = await withBus(values, (bus) =>
      bus.request(HEALER_AGENTS, {}, { timeoutMs: timeoutOf(values) }),
    );
    if (values.json) printJson(io, reply);
    else
      io.stdout.write(
        table([
          ['AGENT', 'STATE', 'QUARANTINED', 'INFECTION', 'CASE'],
          ...reply.agents.map((a) => [
            a.agent_id,
            a.state,
            a.quarantined ? 'yes' : 'no',
            a.infection_id ?? '-',
            [a.infection_status, a.approval].filter(Boolean).join(' / ') || '-',
          ]),
        ]),
      );
    return EXIT_OK;
  },
};

export const pendingCommand: Command = {
  name: 'pending',
  summary: 'severe cases waiting for an operator (--rejected: the rejected ones)',
  help: `Usage: immune pending [--rejected] [--agent <id>] [options]\n\nLists approvals oldest first, with the evidence and ranked hypotheses.\n\n${BUS_HELP}`,
  async run(args, io) {
    const { values } = parse(args, { rejected: { type: 'boolean' }, agent: { type: 'string' } });
    if (values.help) return help(io, this.help);
    const reply = await withBus(values, (bus) =>
      bus.request(
        HEALER_APPROVALS,
        {
          status: values.rejected ? 'rejected' : 'pending',
          ...(values.agent ? { agent_id: values.agent } : {}),
        },
        { timeoutMs: timeoutOf(values) },
      ),
    );
    if (values.json) printJson(io, reply);
    else if (reply.approvals.length === 0)
      io.stdout.write(`no ${values.rejected ? 'rejected' : 'pending'} cases\n`);
    else
      io.stdout.write(
        table([
          ['AGENT', 'SEVERITY', 'σ', 'ANOMALIES', 'LIKELY CAUSE', 'APPROVAL'],
          ...reply.approvals.map((a) => [
            a.agent_id,
            a.severity,
            a.max_deviation.toFixed(1),
            a.anomalies.join(','),
            a.hypotheses
              .slice(0, 2)
              .map((h) => `${h.type} ${pct(h.confidence)}`)
              .join(', '),
            a.approval_id,
          ]),
        ]),
      );
    return EXIT_OK;
  },
};

function decisionCommand(
  name: 'approve' | 'reject' | 'heal',
  summary: string,
  command: typeof HEALER_APPROVE,
): Command {
  return {
    name,
    summary,
    help: `Usage: immune ${name} <agent> | --all | --approval <id> | --infection <id> [--note text] [options]\n\n${summary}. Idempotent: repeating it changes nothing and says so.\n\n${BUS_HELP}`,
    async run(args, io) {
      const { values, positionals } = parse(args, {
        all: { type: 'boolean' },
        approval: { type: 'string' },
        infection: { type: 'string' },
        note: { type: 'string' },
      });
      if (values.help) return help(io, this.help);
      if (positionals.length > 1) throw new UsageError('give one agent');
      const targets = [
        positionals[0],
        values.all ? 'all' : undefined,
        values.approval,
        values.infection,
      ].filter((t) => t !== undefined);
      if (targets.length !== 1)
        throw new UsageError('give exactly one of <agent>, --all, --approval, --infection');
      const request = {
        operator: operatorOf(values),
        ...(positionals[0] === undefined ? {} : { agent_id: positionals[0] }),
        ...(values.all ? { all: true } : {}),
        ...(values.approval === undefined ? {} : { approval_id: values.approval }),
        ...(values.infection === undefined ? {} : { infection_id: values.infection }),
        ...(values.note === undefined ? {} : { note: values.note }),
      };
      const reply = await withBus(values, (bus) =>
        bus.request(command, request, { timeoutMs: timeoutOf(values) }),
      );
      if (values.json) printJson(io, reply);
      else io.stdout.write(describeDecision(name, reply));
      return EXIT_OK;
    },
  };
}

function describeDecision(name: string, reply: DecisionReply): string {
  const verb = { approve: 'approved', reject: 'rejected', heal: 'healing now' }[name] ?? name;
  const lines = [
    ...reply.decided.map((a) => `${a.agent_id}: ${verb} (infection ${a.infection_id})`),
    ...reply.unchanged.map((u) => `${u.agent_id}: unchanged, ${u.reason}`),
  ];
  return lines.length === 0 ? 'nothing to decide\n' : `${lines.join('\n')}\n`;
}

export const approveCommand = decisionCommand(
  'approve',
  'approve pending cases: healing starts',
  HEALER_APPROVE,
);
export const rejectCommand = decisionCommand(
  'reject',
  'reject pending cases: the agents stay quarantined',
  HEALER_REJECT,
);
export const healCommand = decisionCommand(
  'heal',
  'heal now: start healing pending or rejected cases',
  HEALER_HEAL,
);

export const feedbackCommand: Command = {
  name: 'feedback',
  summary: "label the true root cause of an agent's latest (or a given) infection",
  help: `Usage: immune feedback <agent> | --infection <id> --cause <${DIAGNOSIS_TYPES.join('|')}> [options]\n\nThe label is stored and changes how later infections are ranked.\n\n${BUS_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse(args, { infection: { type: 'string' }, cause: { type: 'string' } });
    if (values.help) return help(io, this.help);
    if ((positionals[0] === undefined) === (values.infection === undefined))
      throw new UsageError('give an agent or --infection, not both');
    const cause = values.cause;
    if (cause === undefined || !(DIAGNOSIS_TYPES as readonly string[]).includes(cause))
      throw new UsageError(`--cause must be one of ${DIAGNOSIS_TYPES.join(', ')}`);
    const reply = await withBus(values, (bus) =>
      bus.request(
        HEALER_FEEDBACK,
        {
          true_cause: cause as DiagnosisType,
          operator: operatorOf(values),
          ...(values.infection === undefined
            ? { agent_id: positionals[0]! }
            : { infection_id: values.infection }),
        },
        { timeoutMs: timeoutOf(values) },
      ),
    );
    if (values.json) printJson(io, reply);
    else
      io.stdout.write(
        `${reply.agent_id}: infection ${reply.infection_id} labelled ${reply.true_cause} (diagnosed as ${reply.predicted})\n`,
      );
    return EXIT_OK;
  },
};

function agentCommand(name: 'quarantine' | 'release', summary: string): Command {
  return {
    name,
    summary,
    help: `Usage: immune ${name} <agent> [--reason text] [options]\n\n${summary}.\n\n${BUS_HELP}`,
    async run(args, io) {
      const { values, positionals } = parse(args, { reason: { type: 'string' } });
      if (values.help) return help(io, this.help);
      if (positionals.length !== 1) throw new UsageError('give one agent');
      const request = {
        agent_id: positionals[0]!,
        operator: operatorOf(values),
        ...(values.reason === undefined ? {} : { reason: values.reason }),
      };
      const timeoutMs = timeoutOf(values);
      if (name === 'quarantine') {
        const reply = await withBus(values, (bus) => bus.request(HEALER_QUARANTINE, request, { timeoutMs }));
        if (values.json) printJson(io, reply);
        else io.stdout.write(`${reply.agent_id}: ${reply.already ? 'already quarantined' : 'quarantined'}\n`);
      } else {
        const reply = await withBus(values, (bus) => bus.request(HEALER_RELEASE, request, { timeoutMs }));
        if (values.json) printJson(io, reply);
        else
          io.stdout.write(
            `${reply.agent_id}: ${reply.released ? 'released' : 'was not quarantined'}` +
              `${reply.state ? `, now ${reply.state}` : ''}` +
              `${reply.reverted.length ? `, reverted ${reply.reverted.join(', ')}` : ''}` +
              `${reply.cancelled_approvals.length ? `, ${reply.cancelled_approvals.length} approval(s) cancelled` : ''}\n`,
          );
      }
      return EXIT_OK;
    },
  };
}

export const quarantineCommand = agentCommand('quarantine', 'quarantine an agent by hand');
export const releaseCommand = agentCommand(
  'release',
  'release an agent: lift its quarantine, cancel its open cases, revert the cures the healer wrote',
);

export const HEALER_COMMANDS: readonly Command[] = [
  agentsCommand,
  pendingCommand,
  approveCommand,
  rejectCommand,
  healCommand,
  feedbackCommand,
  quarantineCommand,
  releaseCommand,
];

function help(io: CliIO, text: string): number {
  io.stdout.write(`${text}\n`);
  return EXIT_OK;
}
