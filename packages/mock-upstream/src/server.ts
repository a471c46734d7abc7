import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Behaviour, MISBEHAVIOURS, type Misbehaviour, NORMAL_BEHAVIOUR } from './behaviour.js';
import {
  type Answer,
  anthropicEvents,
  anthropicMessage,
  chatChunks,
  chatCompletion,
  legacyCompletion,
  outputTokens,
  responseEvents,
  responseObject,
} from './wire.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface MockUpstreamOptions {
  port?: number;
  host?: string;
  /** Keep the last N requests for assertions (0 in benchmarks). */
  record?: number;
}

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A fake LLM provider on node:http. It answers like OpenAI (chat completions, Responses, legacy completions,
 * embeddings, models, and Azure's deployment paths) and Anthropic (Messages), streamed or not, with
 * deterministic token counts, and can be told to misbehave for one agent at a time.
 */
export class MockUpstream {
  readonly requests: RecordedRequest[] = [];
  /** Streams whose client went away before the end: the gateway must propagate aborts. */
  abortedStreams = 0;
  /** Any request (streamed or not) whose client went away before the answer was complete. */
  abortedRequests = 0;
  private readonly server: Server;
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly counters = new Map<string, number>();
  private sequence = 0;

  private constructor(private readonly options: MockUpstreamOptions) {
    this.server = createServer((req, res) => {
      res.on('close', () => {
        if (!res.writableFinished) this.abortedRequests++;
      });
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.json(res, 500, { error: { message: String(error), type: 'mock_error' } });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
  }

  static async start(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
    const mock = new MockUpstream(options);
    await new Promise<void>((resolve) =>
      mock.server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
    );
    return mock;
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** Sets how the mock answers one agent; `undefined` restores normal behaviour. */
  setBehaviour(agentId: string, behaviour: Misbehaviour | Partial<Behaviour> | undefined): void {
    if (behaviour === undefined) {
      this.behaviours.delete(agentId);
      return;
    }
    const overrides = typeof behaviour === 'string' ? MISBEHAVIOURS[behaviour] : behaviour;
    this.behaviours.set(agentId, { ...NORMAL_BEHAVIOUR, ...overrides });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mock');
    const raw = await readBody(req);
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        this.json(res, 400, {
          error: {
            message: 'We could not parse the JSON body of your request.',
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        });
        return;
      }
      // Like a real provider, a body nested past any sane depth is refused rather than walked (the answer
      // code below stringifies it, which would overflow the stack).
      if (nestedDeeperThan(body, 128)) {
        this.json(res, 400, {
          error: {
            message: 'The request body is nested too deeply.',
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        });
        return;
      }
    }
    const recordLimit = this.options.record ?? 100;
    if (recordLimit > 0) {
      this.requests.push({
        method: req.method ?? 'GET',
        path: `${url.pathname}${url.search}`,
        headers: req.headers,
        body,
      });
      if (this.requests.length > recordLimit) this.requests.shift();
    }
    const path = url.pathname;
    const agent = header(req, 'x-immune-agent') ?? 'anonymous';
    const behaviour = this.behaviours.get(agent) ?? NORMAL_BEHAVIOUR;
    const anthropic = path.endsWith('/messages');

    if (req.method === 'GET' && path === '/api/tags') {
      this.json(res, 200, {
        models: [{ name: 'llama3.2:latest', model: 'llama3.2:latest', size: 2_019_393_189, digest: 'mock' }],
      });
      return;
    }
    if (req.method === 'GET' && path.endsWith('/models') && header(req, 'anthropic-version') !== undefined) {
      const data = ['claude-3-5-haiku-20241022', 'claude-sonnet-4-20250514'].map((id) => ({
        type: 'model',
        id,
        display_name: id,
        created_at: '2025-05-14T00:00:00Z',
      }));
      this.json(res, 200, { data, has_more: false, first_id: data[0]!.id, last_id: data.at(-1)!.id });
      return;
    }
    if (req.method === 'GET' && path.endsWith('/models')) {
      this.json(res, 200, {
        object: 'list',
        data: ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small'].map((id) => ({
          id,
          object: 'model',
          created: 1_700_000_000,
          owned_by: 'mock',
        })),
      });
      return;
    }
    if (req.method !== 'POST' || !isRecord(body)) {
      this.json(res, 404, {
        error: {
          message: `Unknown request URL: ${req.method} ${path}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'unknown_url',
        },
      });
      return;
    }
    if (path.endsWith('/messages/count_tokens')) {
      this.json(res, 200, { input_tokens: this.answer(body, behaviour, true).inputTokens });
      return;
    }
    if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs);
    if (this.shouldFail(agent, behaviour)) {
      this.fail(res, behaviour.errorStatus, anthropic);
      return;
    }
    const answer = this.answer(body, behaviour, anthropic);
    const stream = body.stream === true;

    if (path === '/api/chat' || path === '/api/generate' || path === '/api/embed') {
      await this.ollama(res, req, path, body, this.answer(body, behaviour, false), behaviour);
    } else if (path.endsWith('/chat/completions')) {
      const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
      if (!stream) this.json(res, 200, chatCompletion(answer));
      else
        await this.sse(
          res,
          req,
          chatChunks(answer, includeUsage).map((chunk) => [undefined, chunk]),
          behaviour,
          true,
        );
    } else if (path.endsWith('/responses')) {
      if (!stream) this.json(res, 200, responseObject(answer, 'completed', body.instructions));
      else await this.sse(res, req, responseEvents(answer, body.instructions), behaviour, false);
    } else if (anthropic) {
      if (!stream) this.json(res, 200, anthropicMessage(answer));
      else await this.sse(res, req, anthropicEvents(answer), behaviour, false);
    } else if (path.endsWith('/completions')) {
      this.json(res, 200, legacyCompletion(answer));
    } else if (path.endsWith('/embeddings')) {
      this.json(res, 200, embeddings(body, answer));
    } else {
      this.json(res, 404, {
        error: {
          message: `Unknown request URL: POST ${path}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'unknown_url',
        },
      });
    }
  }

  /** Ollama's native API: NDJSON streams by default (`stream: false` for one object), usage on the last line. */
  private async ollama(
    res: ServerResponse,
    req: IncomingMessage,
    path: string,
    body: Json,
    answer: Answer,
    behaviour: Behaviour,
  ): Promise<void> {
    if (path === '/api/embed') {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      this.json(res, 200, {
        model: answer.model,
        embeddings: inputs.map(() => [0.1, 0.2, 0.3]),
        total_duration: 1000,
        load_duration: 10,
        prompt_eval_count: answer.inputTokens,
      });
      return;
    }
    const lines = ollamaLines(answer, path === '/api/chat', body.stream !== false);
    if (body.stream === false) {
      this.json(res, 200, lines[0]);
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'x-request-id': `req_mock_${this.sequence}`,
    });
    let closed = false;
    req.on('aborted', () => {
      closed = true;
    });
    res.on('close', () => {
      if (!res.writableFinished) closed = true;
    });
    for (const [index, line] of lines.entries()) {
      if (index === 1 && behaviour.firstTokenDelayMs > 0) await sleep(behaviour.firstTokenDelayMs);
      if (closed) return;
      res.write(`${JSON.stringify(line)}\n`);
      if (behaviour.chunkDelayMs > 0) await sleep(behaviour.chunkDelayMs);
    }
    res.end();
  }

  /** Fails a deterministic fraction of an agent's requests, evenly spread, so tests are repeatable. */
  private shouldFail(agent: string, behaviour: Behaviour): boolean {
    if (behaviour.errorStatus === 0) return false;
    const n = this.counters.get(agent) ?? 0;
    this.counters.set(agent, n + 1);
    return Math.floor((n + 1) * behaviour.errorRate) > Math.floor(n * behaviour.errorRate);
  }

  /** Error bodies as each provider sends them: OpenAI's 429 says `type: requests, code: rate_limit_exceeded`. */
  private fail(res: ServerResponse, status: number, anthropic: boolean): void {
    const message =
      status === 429
        ? 'Rate limit reached for requests'
        : 'The server had an error while processing your request.';
    if (anthropic) {
      const type =
        status === 429
          ? 'rate_limit_error'
          : status === 503
            ? 'overloaded_error'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error';
      this.json(res, status === 503 ? 529 : status, { type: 'error', error: { type, message } });
      return;
    }
    const [type, code] =
      status === 429
        ? ['requests', 'rate_limit_exceeded']
        : status >= 500
          ? ['server_error', null]
          : ['invalid_request_error', null];
    this.json(res, status, { error: { message, type, param: null, code } });
  }

  private answer(body: Json, behaviour: Behaviour, anthropic: boolean): Answer {
    this.sequence++;
    const offeredTools = Array.isArray(body.tools) ? body.tools : [];
    const toolNames = offeredTools
      .map((tool) =>
        isRecord(tool) ? (isRecord(tool.function) ? tool.function.name : tool.name) : undefined,
      )
      .filter((name): name is string => typeof name === 'string');
    // A model answers a tool result with text; a tool storm keeps calling tools regardless.
    const afterToolResult = lastMessageIsToolResult(body, anthropic);
    const storm = behaviour.toolCalls > NORMAL_BEHAVIOUR.toolCalls;
    const toolCount = toolNames.length > 0 && (!afterToolResult || storm) ? behaviour.toolCalls : 0;
    // Ids and timestamps derive from the conversation, not from time or order, so the same request answered
    // directly and through the gateway yields identical objects.
    const conversation = JSON.stringify([
      body.model,
      body.messages ?? body.input ?? body.prompt ?? '',
      body.system ?? '',
    ]);
    const digest = createHash('sha256').update(conversation).digest('hex');
    return {
      model: typeof body.model === 'string' ? body.model : 'gpt-4o-mini',
      id: `mock${digest.slice(0, 20)}`,
      created: 1_732_400_000,
      inputTokens: Math.max(
        1,
        Math.ceil(JSON.stringify(body.messages ?? body.input ?? body.prompt ?? '').length / 4),
      ),
      words: Array.from({ length: behaviour.outputTokens }, (_, i) => WORDS[i % WORDS.length]!),
      tools: Array.from({ length: toolCount }, (_, i) => ({
        id: `call_${digest.slice(0, 12)}_${i}`,
        name: toolNames[i % toolNames.length]!,
        arguments: JSON.stringify({ query: `mock-${i}` }),
      })),
    };
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      'x-request-id': `req_mock_${this.sequence}`,
    });
    res.end(payload);
  }

  private async sse(
    res: ServerResponse,
    req: IncomingMessage,
    events: Array<[string | undefined, unknown]>,
    behaviour: Behaviour,
    done: boolean,
  ): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': `req_mock_${this.sequence}`,
    });
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        closed = true;
        this.abortedStreams++;
      }
    });
    req.on('aborted', () => {
      closed = true;
    });
    const firstToken = events.findIndex(([event, data]) => isFirstToken(event, data));
    for (const [index, [event, data]] of events.entries()) {
      if (index === firstToken && behaviour.firstTokenDelayMs > 0) await sleep(behaviour.firstTokenDelayMs);
      if (closed) return;
      if (behaviour.breakStreamAfterEvents > 0 && index === behaviour.breakStreamAfterEvents) {
        // Let what was written reach the client first: a destroy drops unsent bytes, headers included.
        await new Promise<void>((resolve) => res.write('', () => resolve()));
        res.destroy();
        return;
      }
      res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
      if (behaviour.chunkDelayMs > 0) await sleep(behaviour.chunkDelayMs);
    }
    if (done && !closed) res.write('data: [DONE]\n\n');
    res.end();
  }
}

/** The first event that carries a generated token: a content or tool delta, in each wire format. */
function isFirstToken(event: string | undefined, data: unknown): boolean {
  if (event !== undefined) return event === 'content_block_delta' || event.endsWith('.delta');
  const delta = isRecord(data) && Array.isArray(data.choices) ? data.choices[0]?.delta : undefined;
  return (
    isRecord(delta) && ((typeof delta.content === 'string' && delta.content !== '') || 'tool_calls' in delta)
  );
}

/**
 * The objects of an Ollama stream: an opening one with an empty message, one per word (or the tool calls), and
 * a last one with `done: true` and the counts. A non-streamed answer is the last one with the whole text.
 */
function ollamaLines(answer: Answer, chat: boolean, stream: boolean): Json[] {
  const base = { model: answer.model, created_at: '2024-11-24T00:00:00Z' };
  const piece = (text: string, tools?: Answer['tools']) =>
    chat
      ? {
          ...base,
          message: {
            role: 'assistant',
            content: text,
            ...(tools?.length
              ? {
                  tool_calls: tools.map((t) => ({
                    function: { name: t.name, arguments: JSON.parse(t.arguments) },
                  })),
                }
              : {}),
          },
          done: false,
        }
      : { ...base, response: text, done: false };
  const lines: Json[] = [piece('')];
  if (!stream) {
    const tools = chat && answer.tools.length > 0;
    return [
      ollamaFinal(piece(tools ? '' : answer.words.join(' '), tools ? answer.tools : undefined), answer),
    ];
  }
  if (chat && answer.tools.length > 0) lines.push(piece('', answer.tools));
  else for (const [i, word] of answer.words.entries()) lines.push(piece(i === 0 ? word : ` ${word}`));
  lines.push(ollamaFinal(piece(''), answer));
  return lines;
}

/** The last object: `done` and the counts (for a non-streamed answer, with the whole text in it). */
function ollamaFinal(last: Json, answer: Answer): Json {
  return {
    ...last,
    done: true,
    done_reason: 'stop',
    total_duration: 5_000_000,
    load_duration: 100_000,
    prompt_eval_count: answer.inputTokens,
    prompt_eval_duration: 1_000_000,
    eval_count: outputTokens(answer),
    eval_duration: 3_000_000,
  };
}

const WORDS = ['the', 'agent', 'reviewed', 'data', 'and', 'found', 'a', 'clear', 'answer', 'today'];

function embeddings(body: Json, answer: Answer) {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const vector = Array.from({ length: 8 }, (_, i) => Number((0.1 * (i + 1)).toFixed(2)));
  const base64 = body.encoding_format === 'base64';
  return {
    object: 'list',
    data: inputs.map((_, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
    })),
    model: answer.model,
    usage: { prompt_tokens: answer.inputTokens, total_tokens: answer.inputTokens },
  };
}

function lastMessageIsToolResult(body: Json, anthropic: boolean): boolean {
  const list = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : [];
  const last = list.at(-1);
  if (!isRecord(last)) return false;
  if (last.role === 'tool' || last.type === 'function_call_output') return true;
  return (
    anthropic &&
    Array.isArray(last.content) &&
    last.content.some((b) => isRecord(b) && b.type === 'tool_result')
  );
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export { outputTokens };

/** Whether a parsed JSON value nests arrays or objects more than `limit` deep; iterative, so it cannot overflow. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const next = stack.pop() as { value: unknown; depth: number };
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth >= limit) return true;
    for (const child of Object.values(next.value)) stack.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}
