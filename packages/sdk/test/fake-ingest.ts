import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: { vitals?: Array<{ id: string }> } & Record<string, unknown>;
}

type Answer = (received: Received) => { status: number; body?: unknown; headers?: Record<string, string> };

/** An HTTP server standing in for ingest: records every request and answers as the test scripts it. */
export class FakeIngest {
  readonly received: Received[] = [];
  private answers: Answer[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeIngest> {
    let fake: FakeIngest | undefined;
    const server = createServer((req, res) => void fake!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeIngest(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return fake;
  }

  /** Answers for the next requests, in order; after them every request gets 202. */
  script(...answers: Answer[]): void {
    this.answers.push(...answers);
  }

  /** Ids of every vital in requests answered 202. */
  get accepted(): string[] {
    return this.received.flatMap((r) =>
      r.path === '/api/v1/ingest' ? (r.body.vitals ?? []).map((v) => v.id) : [],
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const received: Received = { path: req.url ?? '', headers: req.headers, body: JSON.parse(text) };
    const answer = this.answers.shift()?.(received) ?? {
      status: received.path === '/api/v1/ingest' ? 202 : 201,
      body:
        received.path === '/api/v1/ingest'
          ? { accepted: received.body.vitals?.length ?? 0, ids: [] }
          : { agent: { id: received.body.agent_id }, created: true },
    };
    if (answer.status === 202 || answer.status === 201) this.received.push(received);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body ?? {}));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
