import type {
  DecisionReply,
  HEALER_AGENTS,
  HEALER_APPROVALS,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_QUARANTINE,
  HEALER_RELEASE,
  ReplyOf,
  RequestOf,
} from '@immune/bus';

export type Decision = 'approve' | 'reject' | 'heal';

/** One case, a set by target, or every case a decision applies to. */
export interface DecisionRequest {
  agent_id?: string;
  approval_id?: string;
  infection_id?: string;
  all?: true;
  /** Only cases in this approval status (the healer's filter; `heal --all` sends `rejected` unless told). */
  status?: RequestOf<typeof HEALER_HEAL>['status'];
  note?: string;
}

/**
 * The operator actions, whatever carries them: the healer's commands over NATS, or the dashboard's HTTP API
 * (which sends the same commands itself). Every CLI command is written once against this seam. Both send the
 * operator token; who acts is always the token's name, as the service that checks it records it.
 */
export interface OperatorApi {
  /** Where the requests go, for error messages. */
  readonly target: string;
  agents(): Promise<ReplyOf<typeof HEALER_AGENTS>>;
  approvals(request: {
    status: 'pending' | 'rejected';
    agent_id?: string;
  }): Promise<ReplyOf<typeof HEALER_APPROVALS>>;
  decide(decision: Decision, request: DecisionRequest): Promise<DecisionReply>;
  feedback(request: RequestOf<typeof HEALER_FEEDBACK>): Promise<ReplyOf<typeof HEALER_FEEDBACK>>;
  quarantine(request: RequestOf<typeof HEALER_QUARANTINE>): Promise<ReplyOf<typeof HEALER_QUARANTINE>>;
  release(request: RequestOf<typeof HEALER_RELEASE>): Promise<ReplyOf<typeof HEALER_RELEASE>>;
  close(): Promise<void>;
}
