import Type, { type Static } from 'typebox';

/** The time windows the UI offers, and what each spans. */
export const WINDOWS = {
  '15m': 900_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
} as const;
export type WindowName = keyof typeof WINDOWS;

export const WindowQuery = Type.Object(
  { window: Type.Optional(Type.Enum(Object.keys(WINDOWS) as WindowName[])) },
  { additionalProperties: false },
);

export function windowMs(window: WindowName | undefined): number {
  return WINDOWS[window ?? '1h'];
}

const AgentId = Type.String({ minLength: 1, maxLength: 256 });
export const AgentParams = Type.Object({ agentId: AgentId });
export const IncidentParams = Type.Object({ infectionId: Type.String({ minLength: 1, maxLength: 256 }) });

/**
 * Whom a decision applies to: one agent's open case, one approval or infection, a list of approvals (a bulk
 * selection), or every open case. Exactly one of them.
 */
/** The approval statuses a decision can take cases from. */
export const CaseStatus = Type.Union([Type.Literal('pending'), Type.Literal('rejected')]);
export type CaseStatus = Static<typeof CaseStatus>;

export const DecisionBody = Type.Object(
  {
    agent_id: Type.Optional(AgentId),
    approval_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    infection_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    approval_ids: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
        minItems: 1,
        maxItems: 1000,
        uniqueItems: true,
      }),
    ),
    all: Type.Optional(Type.Literal(true)),
    /**
     * Only cases in this approval status (the healer's filter). A bulk decision defaults to the status it takes
     * (heal: rejected); a single case is not filtered unless asked.
     */
    status: Type.Optional(CaseStatus),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type DecisionBody = Static<typeof DecisionBody>;

export const DECISIONS = ['approve', 'reject', 'heal'] as const;
export type Decision = (typeof DECISIONS)[number];
export const DecisionParams = Type.Object({ decision: Type.Enum(DECISIONS) });

export const ReasonBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) },
  { additionalProperties: false },
);
