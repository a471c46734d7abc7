import { connect, type Socket } from 'node:net';
import { answerProblems } from './hostile-bodies.js';
import { type RawExchange, type RawResponse, type RawStep, type RawTarget, rawExchange } from './raw-http.js';

/**
 * One route of a listening service to abuse, and the limits it was started with. The valid request (method,
 * path, headers, body) is what a well-behaved client would send; the cases break it in every way that matters
 * at the socket level.
 */
export interface AbuseTarget extends RawTarget {
  method: string;
  path: string;
  /** Sent with every request: auth, content-type. `host` and `content-length` are added. */
  headers?: Record<string, string>;
  /** A body the route accepts (or refuses cleanly); empty for GET. */
  body?: string;
  /** The service's HTTP_MAX_HEADER_BYTES. */
  maxHeaderBytes: number;
  /** The service's HTTP_HEADERS_TIMEOUT_MS: slow clients trickle for longer than this. */
  headersTimeoutMs: number;
  /** Idle connections held open at once while the other cases run (below HTTP_MAX_CONNECTIONS). */
  idleConnections?: number;
}

/** One abuse and what a sound server does about it. */
export interface AbuseCase {
  name: string;
  steps: RawStep[];
  endAfterWrite?: boolean;
  /** Wait for this many responses instead of the close. */
  responses?: number;
  /** The status the last response must have (the server's refusal); absent: whatever the route decides. */
  finalStatus?: readonly number[];
  /** The server must close the connection (it cannot resynchronise, or the client never finished). */
  mustClose?: boolean;
}

export interface AbuseReport {
  cases: number;
  responses: number;
  /** Normal requests the probe made while the abuse ran, and after it. */
  probesDuring: number;
  probesAfter: number;
  idleConnections: number;
}

const INVALID_UTF8 = Buffer.from([
  0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe,
]);

/** The socket-level abuses of issue 19, built around the target's valid request. */
export function abuseCases(target: AbuseTarget): AbuseCase[] {
  const body = Buffer.from(target.body ?? '', 'utf8');
  const headerLines = (extra: Record<string, string> = {}, withLength = true) => {
    const all: Record<string, string> = {
      host: `${target.host}:${target.port}`,
      ...target.headers,
      ...extra,
    };
    if (withLength && all['content-length'] === undefined && all['transfer-encoding'] === undefined)
      all['content-length'] = String(body.length);
    return Object.entries(all)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
  };
  const start = `${target.method} ${target.path} HTTP/1.1\r\n`;
  const valid = Buffer.concat([Buffer.from(`${start}${headerLines()}\r\n`, 'latin1'), body]);
  const trickle = Math.max(20, Math.floor(target.headersTimeoutMs / 8));
  const slowSteps: RawStep[] = [start];
  for (let i = 0; i < 24; i++) slowSteps.push({ pauseMs: trickle }, `x-slow-${i}: ${i}\r\n`);
  const half = body.subarray(0, Math.floor(body.length / 2));
  const corrupted: Record<string, string> = {};
  for (const name of Object.keys(target.headers ?? {})) {
    if (name !== 'content-type')
      corrupted[name] = `${target.headers?.[name]}${INVALID_UTF8.toString('latin1')}`;
  }
  return [
    { name: 'slow headers (slowloris)', steps: slowSteps, finalStatus: [408], mustClose: true },
    { name: 'connect and send nothing', steps: [], finalStatus: [408], mustClose: true },
    {
      name: 'one header larger than the limit',
      steps: [`${start}${headerLines({ 'x-big': 'a'.repeat(target.maxHeaderBytes + 1) })}\r\n`],
      finalStatus: [431],
      mustClose: true,
    },
    {
      name: 'many headers adding up past the limit',
      steps: [
        `${start}${headerLines(
          Object.fromEntries(
            Array.from({ length: Math.ceil(target.maxHeaderBytes / 16) + 1 }, (_, i) => [
              `x-h${i}`,
              'v'.repeat(32),
            ]),
          ),
        )}\r\n`,
      ],
      finalStatus: [431],
      mustClose: true,
    },
    {
      name: 'request target longer than the header limit',
      steps: [`${target.method} /${'p'.repeat(target.maxHeaderBytes + 1)} HTTP/1.1\r\n${headerLines()}\r\n`],
      finalStatus: [431],
      mustClose: true,
    },
    {
      name: 'invalid UTF-8 in header values',
      steps: [
        Buffer.concat([
          Buffer.from(start, 'latin1'),
          Buffer.from(headerLines(corrupted), 'latin1'),
          Buffer.from('x-fuzz: ', 'latin1'),
          INVALID_UTF8,
          Buffer.from('\r\n\r\n', 'latin1'),
          body,
        ]),
      ],
      responses: 1,
    },
    {
      name: 'invalid byte in a header name',
      steps: [
        Buffer.concat([
          Buffer.from(`${start}${headerLines()}x-`, 'latin1'),
          INVALID_UTF8,
          Buffer.from(': 1\r\n\r\n'),
        ]),
      ],
      finalStatus: [400],
      mustClose: true,
    },
    {
      name: 'invalid UTF-8 in the body',
      steps: (() => {
        const bad = Buffer.concat([
          body.subarray(0, Math.floor(body.length / 2)),
          INVALID_UTF8,
          body.subarray(Math.floor(body.length / 2)),
        ]);
        return [
          Buffer.concat([
            Buffer.from(`${start}${headerLines({ 'content-length': String(bad.length) })}\r\n`, 'latin1'),
            bad,
          ]),
        ];
      })(),
      responses: 1,
    },
    {
      name: 'body longer than content-length (the rest is garbage)',
      steps: [Buffer.concat([valid, Buffer.from('\x00\x01{"not":"http"}\r\n\r\n', 'latin1')])],
      finalStatus: [400],
      mustClose: true,
    },
    {
      name: 'body shorter than content-length, connection left open',
      steps: [`${start}${headerLines({ 'content-length': String(body.length + 64) })}\r\n`, body],
      mustClose: true,
    },
    {
      name: 'body shorter than content-length, then the client half-closes',
      steps: [`${start}${headerLines({ 'content-length': String(body.length + 64) })}\r\n`, half],
      endAfterWrite: true,
      mustClose: true,
    },
    {
      name: 'truncated chunked body, connection left open',
      steps: [
        `${start}${headerLines({ 'transfer-encoding': 'chunked' })}\r\n`,
        `${(body.length + 16).toString(16)}\r\n`,
        half,
      ],
      mustClose: true,
    },
    {
      name: 'truncated chunked body, then the client half-closes',
      steps: [
        `${start}${headerLines({ 'transfer-encoding': 'chunked' })}\r\n`,
        `${(body.length + 16).toString(16)}\r\n`,
        half,
      ],
      endAfterWrite: true,
      mustClose: true,
    },
    {
      name: 'invalid chunk size',
      steps: [
        `${start}${headerLines({ 'transfer-encoding': 'chunked' })}\r\nzz\r\n${'q'.repeat(8)}\r\n0\r\n\r\n`,
      ],
      finalStatus: [400],
      mustClose: true,
    },
    {
      name: 'content-length and transfer-encoding together (smuggling)',
      steps: [
        `${start}${headerLines({ 'transfer-encoding': 'chunked' }, false)}content-length: 4\r\n\r\n0\r\n\r\n`,
      ],
      finalStatus: [400],
      mustClose: true,
    },
    {
      name: 'content-length that is not a number',
      steps: [`${start}${headerLines({ 'content-length': '12abc' })}\r\n`],
      finalStatus: [400],
      mustClose: true,
    },
    {
      name: 'content-length of a petabyte',
      steps: [`${start}${headerLines({ 'content-length': String(2 ** 50) })}\r\n`, body],
      mustClose: true,
    },
    {
      name: 'garbage instead of a request line',
      steps: [Buffer.concat([INVALID_UTF8, Buffer.from(' \x00GARBAGE\r\n\r\n', 'latin1')])],
      finalStatus: [400],
      mustClose: true,
    },
    {
      name: 'valid request pipelined with garbage',
      steps: [Buffer.concat([valid, Buffer.from('NOT-A-METHOD / HTTP/9.9\r\n\x7f\x7f\r\n\r\n', 'latin1')])],
      finalStatus: [400],
      mustClose: true,
    },
    {
      name: 'ten valid requests pipelined on one connection',
      steps: [Buffer.concat(Array.from({ length: 10 }, () => valid))],
      responses: 10,
    },
  ];
}

/**
 * Runs every abuse case at once against a listening service, with `idleConnections` idle sockets held open,
 * while `probe` (a normal request that must succeed) runs in a loop; then probes once more. Throws, naming the
 * case, when a case hangs, gets a 5xx, a refusal that is not JSON `{ error: { code, message } }`, the wrong
 * refusal, or an open connection that should have been closed; or when a probe fails.
 */
export async function runAbuse(
  target: AbuseTarget,
  probe: () => Promise<void>,
  options: { timeoutMs?: number; extraCases?: AbuseCase[] } = {},
): Promise<AbuseReport> {
  const timeoutMs = options.timeoutMs ?? Math.max(30_000, target.headersTimeoutMs * 10);
  const cases = [...abuseCases(target), ...(options.extraCases ?? [])];
  const idle = await openIdle(target, target.idleConnections ?? 100);
  let running = true;
  let probesDuring = 0;
  const probing = (async () => {
    while (running) {
      await probe();
      probesDuring++;
    }
  })();
  let results: Array<{ abuse: AbuseCase; exchange: RawExchange }>;
  try {
    results = await Promise.all(
      cases.map(async (abuse) => ({
        abuse,
        exchange: await rawExchange(target, abuse.steps, {
          timeoutMs,
          ...(abuse.endAfterWrite ? { endAfterWrite: true } : {}),
          ...(abuse.responses === undefined ? {} : { responses: abuse.responses }),
        }),
      })),
    );
  } finally {
    running = false;
    await probing.catch(() => undefined);
    for (const socket of idle) socket.destroy();
  }
  await probing;
  const failures = results.flatMap(({ abuse, exchange }) =>
    problemsOf(abuse, exchange).map((problem) => `${abuse.name}: ${problem}`),
  );
  if (failures.length > 0)
    throw new Error(`abuse of ${target.method} ${target.path} failed:\n${failures.join('\n')}`);
  await probe();
  return {
    cases: cases.length,
    responses: results.reduce((sum, { exchange }) => sum + exchange.responses.length, 0),
    probesDuring,
    probesAfter: 1,
    idleConnections: idle.length,
  };
}

function problemsOf(abuse: AbuseCase, exchange: RawExchange): string[] {
  const problems: string[] = [];
  if (exchange.timedOut) problems.push('no answer and no close: the connection hung');
  for (const response of exchange.responses) problems.push(...responseProblems(response));
  const last = exchange.responses.at(-1);
  if (abuse.finalStatus && !abuse.finalStatus.includes(last?.statusCode ?? 0))
    problems.push(
      `expected a final ${abuse.finalStatus.join('/')}, got ${last?.statusCode ?? 'no response'}`,
    );
  if (abuse.responses !== undefined && exchange.responses.length < abuse.responses)
    problems.push(`expected ${abuse.responses} responses, got ${exchange.responses.length}`);
  if (abuse.mustClose && !exchange.closed) problems.push('the server left the connection open');
  if (exchange.leftover.trim() !== '' && exchange.responses.length === 0)
    problems.push(`not HTTP: ${JSON.stringify(exchange.leftover.slice(0, 120))}`);
  return problems;
}

function responseProblems(response: RawResponse): string[] {
  return answerProblems(response.statusCode, response.headers['content-type'] ?? null, response.body);
}

/** Connections that connect and then say nothing, as many clients behind a broken proxy would. */
async function openIdle(target: RawTarget, count: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect({ host: target.host, port: target.port });
          socket.on('error', () => undefined);
          socket.once('connect', () => resolve(socket));
          socket.once('close', () => resolve(socket));
        }),
    ),
  );
}
