import { parseArgs } from 'node:util';
import type { DecisionReply } from '@immune/bus';
import { DIAGNOSIS_TYPES, type DiagnosisType } from '@immune/core';
import { EXIT_OK, UsageError } from '../../errors.js';
import type { CliIO } from '../../io.js';
import type { Decision, DecisionRequest } from '../../transport/api.js';
import { withApi } from '../../transport/select.js';
import type { Command } from '../command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, printJson, refuseOperatorName, table } from './options.js';

/**
 * The operator commands: thin wrappers around `immune.cmd.healer.*`, so the CLI, the dashboard and scripts
 * share one implementation of every decision (the healer's).
 */

function parse<O extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(
  args: string[],
  extra: O,
) {
  const parsed = usage(() =>
    parseArgs({ args, options: { ...CONNECTION_OPTIONS, ...extra }, allowPositionals: true, strict: true }),
  );
  refuseOperatorName(parsed.values as { operator?: string });
  return parsed;
}

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export const agentsCommand: Command = {
  name: 'agents',
  summary: 'the fleet: each agent, its lifecycle state, quarantine and open case',
  help: `Usage: immune agents [options]\n\nExamples:\n  immune agents\n  immune agents --json | jq '.agents[] | select(.quarantined)'\n  immune agents --nats nats://127.0.0.1:4222\n\n${CONNECTION_HELP}`,
  async run(args, io) {
    const { values } = parse(args, {});
    if (values.help) return help(io, this.help);
    const reply = await withApi(values, (api) => api.agents());
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
  help: `Usage: immune pending [--rejected] [--agent <id>] [options]\n\nLists approvals oldest first, with the evidence and ranked hypotheses.\n\nExamples:\n  IMMUNE_OPERATOR_TOKEN=… immune pending\n  immune pending --rejected --agent research-1\n  immune pending --url https://immune.example.com --token "$TOKEN" --json\n\n${CONNECTION_HELP}`,
  async run(args, io) {
    const { values } = parse(args, { rejected: { type: 'boolean' }, agent: { type: 'string' } });
    if (values.help) return help(io, this.help);
    const reply = await withApi(values, (api) =>
      api.approvals({
        status: values.rejected ? 'rejected' : 'pending',
        ...(values.agent ? { agent_id: values.agent } : {}),
      }),
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

type CaseStatus = NonNullable<DecisionRequest['status']>;
const CASE_STATUSES: Record<CaseStatus, true> = { pending: true, rejected: true };

/**
 * `statusFilter`: the decision takes `--status`, and `--all` means the cases in `bulkDefault` unless told
 * otherwise (heal: the rejected ones, as the dashboard's Heal all, so nobody heals a pending case unseen).
 */
interface StatusFilter {
  bulkDefault: CaseStatus;
  help: string;
}

function decisionCommand(
  name: Decision,
  summary: string,
  examples: string,
  statusFilter?: StatusFilter,
): Command {
  const statusUsage = statusFilter === undefined ? '' : ` [--status ${Object.keys(CASE_STATUSES).join('|')}]`;
  const statusHelp = statusFilter === undefined ? '' : `\n\n${statusFilter.help}`;
  return {
    name,
    summary,
    help: `Usage: immune ${name} <agent> | --all | --approval <id> | --infection <id>${statusUsage} [--note text] [options]\n\n${summary}. Idempotent: repeating it changes nothing and says so.${statusHelp}\n\nExamples:\n  ${examples}\n\n${CONNECTION_HELP}`,
    async run(args, io) {
      const { values, positionals } = parse(args, {
        all: { type: 'boolean' },
        approval: { type: 'string' },
        infection: { type: 'string' },
        note: { type: 'string' },
        ...(statusFilter === undefined ? {} : { status: { type: 'string' as const } }),
      });
      if (values.help) return help(io, this.help);
      const given = (values as { status?: string }).status;
      if (given !== undefined && !Object.hasOwn(CASE_STATUSES, given))
        throw new UsageError(`--status must be one of ${Object.keys(CASE_STATUSES).join(', ')}`);
      const status =
        (given as CaseStatus | undefined) ?? (values.all ? statusFilter?.bulkDefault : undefined);
      if (positionals.length > 1) throw new UsageError('give one agent');
      const targets = [
        positionals[0],
        values.all ? 'all' : undefined,
        values.approval,
        values.infection,
      ].filter((t) => t !== undefined);
      if (targets.length !== 1)
        throw new UsageError('give exactly one of <agent>, --all, --approval, --infection');
      const request: DecisionRequest = {
        ...(positionals[0] === undefined ? {} : { agent_id: positionals[0] }),
        ...(values.all ? { all: true as const } : {}),
        ...(values.approval === undefined ? {} : { approval_id: values.approval }),
        ...(values.infection === undefined ? {} : { infection_id: values.infection }),
        ...(status === undefined ? {} : { status }),
        ...(values.note === undefined ? {} : { note: values.note }),
      };
      const reply = await withApi(values, (api) => api.decide(name, request));
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
  'immune approve research-1\n  immune approve --all --note "checked the evidence"\n  immune approve --approval apr-123 --json',
);
export const rejectCommand = decisionCommand(
  'reject',
  'reject pending cases: the agents stay quarantined',
  'immune reject research-1 --note "expected after the release"\n  immune reject --all',
);
export const healCommand = decisionCommand(
  'heal',
  'heal now: start healing pending or rejected cases',
  'immune heal research-1\n  immune heal --all                    # the rejected cases\n  immune heal --all --status pending --json\n  immune heal --infection inf-42',
  {
    bulkDefault: 'rejected',
    help: "--status takes only cases in that approval status. With --all it defaults to rejected (as the dashboard's\nHeal all), so a pending case nobody looked at is never healed by accident; one named case is not filtered.",
  },
);

export const feedbackCommand: Command = {
  name: 'feedback',
  summary: "label the true root cause of an agent's latest (or a given) infection",
  help: `Usage: immune feedback <agent> | --infection <id> --cause <${DIAGNOSIS_TYPES.join('|')}> [options]\n\nThe label is stored and changes how later infections are ranked.\n\nExamples:\n  immune feedback research-1 --cause memory_corruption\n  immune feedback --infection inf-42 --cause cost_overrun --json\n\n${CONNECTION_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse(args, { infection: { type: 'string' }, cause: { type: 'string' } });
    if (values.help) return help(io, this.help);
    if ((positionals[0] === undefined) === (values.infection === undefined))
      throw new UsageError('give an agent or --infection, not both');
    const cause = values.cause;
    if (cause === undefined || !(DIAGNOSIS_TYPES as readonly string[]).includes(cause))
      throw new UsageError(`--cause must be one of ${DIAGNOSIS_TYPES.join(', ')}`);
    const reply = await withApi(values, (api) =>
      api.feedback({
        true_cause: cause as DiagnosisType,
        ...(values.infection === undefined
          ? { agent_id: positionals[0]! }
          : { infection_id: values.infection }),
      }),
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
  const example = `immune ${name} research-1 --reason "odd tool calls"`;
  return {
    name,
    summary,
    help: `Usage: immune ${name} <agent> [--reason text] [options]\n\n${summary}.\n\nExamples:\n  ${example}\n  immune ${name} research-1 --json\n\n${CONNECTION_HELP}`,
    async run(args, io) {
      const { values, positionals } = parse(args, { reason: { type: 'string' } });
      if (values.help) return help(io, this.help);
      if (positionals.length !== 1) throw new UsageError('give one agent');
      const request = {
        agent_id: positionals[0]!,
        ...(values.reason === undefined ? {} : { reason: values.reason }),
      };
      if (name === 'quarantine') {
        const reply = await withApi(values, (api) => api.quarantine(request));
        if (values.json) printJson(io, reply);
        else io.stdout.write(`${reply.agent_id}: ${reply.already ? 'already quarantined' : 'quarantined'}\n`);
      } else {
        const reply = await withApi(values, (api) => api.release(request));
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
