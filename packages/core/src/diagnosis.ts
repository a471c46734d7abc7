import Type, { type Static } from 'typebox';

export const DIAGNOSIS_TYPES = [
  'prompt_drift',
  'prompt_injection',
  'infinite_loop',
  'tool_instability',
  'memory_corruption',
  'cost_overrun',
  'external_cause',
  'unknown',
] as const;
export const DiagnosisType = Type.Enum(DIAGNOSIS_TYPES);
export type DiagnosisType = (typeof DIAGNOSIS_TYPES)[number];

export const Hypothesis = Type.Object(
  {
    type: DiagnosisType,
    confidence: Type.Number({ minimum: 0, maximum: 1 }),
    evidence: Type.Array(Type.String(), { description: 'Human-readable reasons, for the operator' }),
  },
  { additionalProperties: false },
);
export type Hypothesis = Static<typeof Hypothesis>;

/** Ranked hypotheses, most likely first; confidences sum to 1. */
export const Diagnosis = Type.Object(
  {
    infection_id: Type.String({ minLength: 1 }),
    agent_id: Type.String({ minLength: 1 }),
    ts: Type.Integer({ minimum: 0 }),
    hypotheses: Type.Array(Hypothesis, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type Diagnosis = Static<typeof Diagnosis>;
