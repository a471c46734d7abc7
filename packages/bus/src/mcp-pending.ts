import Type, { type Static } from 'typebox';
import { defineBucket } from './messages.js';

/**
 * A `tools/call` whose answer may reach another MCP proxy replica than the one that saw the request: a legacy
 * HTTP+SSE session (the POST is answered 202, the result comes on the GET stream) or a Streamable HTTP POST stream
 * that ended before its result (2025-11-25 resumption with GET + Last-Event-ID). The replica that saw the request
 * writes it; whichever replica sees the result publishes the vital with `vital_id` (so two never publish twice:
 * the vitals stream dedupes on it) and deletes the entry. Keys are opaque digests of (agent, session, id type, id).
 */
export const McpPendingCall = Type.Object(
  {
    agent_id: Type.String({ minLength: 1, maxLength: 256 }),
    session: Type.String({ minLength: 1, maxLength: 512 }),
    tool: Type.String({ maxLength: 256 }),
    server: Type.String({ minLength: 1, maxLength: 256 }),
    started_at: Type.Integer({ minimum: 0, description: 'Epoch ms when the request was forwarded' }),
    request_hash: Type.String({ maxLength: 128 }),
    trace_id: Type.Optional(Type.String({ maxLength: 64 })),
    vital_id: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export type McpPendingCall = Static<typeof McpPendingCall>;

/** Entries older than a day are gone by themselves; each replica settles its own well before (timeout vitals). */
export const MCP_PENDING_BUCKET = defineBucket({
  name: 'mcp_pending',
  schema: McpPendingCall,
  history: 1,
  maxAgeMs: 24 * 60 * 60 * 1000,
});
