import type { HttpPlugin } from '@immune/runtime';
import { EventStream, type EventStreamOptions } from './event-stream.js';
import type { LiveHub } from './live-hub.js';

export interface StreamRouteOptions {
  hub: LiveHub;
  stream: Omit<EventStreamOptions, 'endsAt'>;
  /** Aborts when the service starts shutting down: every stream ends so the HTTP phase is not held open. */
  draining: AbortSignal;
}

/**
 * `GET /api/stream`: the live feed as Server-Sent Events (see `EventStream` for the frames). Behind the same
 * authentication as every API route; a session's stream ends when the session does.
 */
export const streamRoute: HttpPlugin<StreamRouteOptions> = async (app, { hub, stream, draining }) => {
  app.get(
    '/api/stream',
    {
      schema: {
        tags: ['live'],
        summary:
          'Live updates (text/event-stream): hello, update {ts, events, quarantine}, status, heartbeat, resync, session',
        produces: ['text/event-stream'],
      },
    },
    async (request, reply) => {
      const endsAt = request.session?.exp;
      await new EventStream(hub, reply, { ...stream, ...(endsAt === undefined ? {} : { endsAt }) }).run(
        draining,
      );
    },
  );
};
