import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { OPERATOR_TOKEN_HEADER } from '@immune/bus';
import { OwnNatsServer } from '@immune/bus/testing';
import { MockUpstream } from '@immune/mock-upstream';
import { hashOperatorToken, mintOperatorToken } from '@immune/runtime';
import { openStore } from '@immune/store';
import { TempPostgres } from '@immune/store/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { freePort, ServiceProcess } from './faults/service-process.js';

const run = promisify(execFile);

/**
 * The secret scan (issue 19): gateway, ingest, sentinel, healer and dashboard each its own process at
 * LOG_LEVEL=trace, on a nats-server and a PostgreSQL cluster of the test's own (so everything in them is this
 * test's), driven with known secrets: provider keys sent by clients (`Authorization: Bearer`, `x-api-key`), the
 * ingest key, an operator token (the services hold only its hash) used through the gateway's management API
 * and the dashboard (login, bearer, a containment command), a token nobody configured, the healer's webhook
 * secret and the dashboard's session secret. Then every log line (stdout and stderr) of every service, every
 * message seen on the bus while it ran (bodies and headers, `>` including `$JS`/`$KV`), every message left in
 * every stream and KV bucket, and every row of every table is searched for each secret in clear, base64 and
 * base64url. The single allowed carrier: the operator token in the `Immune-Operator-Token` header of
 * `immune.cmd.*` requests (docs/bus.md), never on events, KV entries or stream messages.
 */

const secret = (label: string) => `${label}-${randomBytes(18).toString('hex')}`;
const SECRETS = {
  openaiKey: secret('sk-scan-openai'),
  anthropicKey: secret('sk-ant-scan'),
  ingestKey: secret('ingest-scan-key'),
  operatorToken: mintOperatorToken(),
  strangerToken: mintOperatorToken(),
  webhookSecret: secret('webhook-scan-secret'),
  sessionSecret: secret('dashboard-session-secret-scan'),
} as const;
type SecretName = keyof typeof SECRETS;

/** Each secret as it could leak: in clear, base64 and base64url. */
const NEEDLES: Array<{ name: SecretName; needle: string }> = Object.entries(SECRETS).flatMap(
  ([name, value]) =>
    [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('base64url')].map(
      (needle) => ({
        name: name as SecretName,
        needle,
      }),
    ),
);

function hits(text: string): SecretName[] {
  return [...new Set(NEEDLES.filter(({ needle }) => text.includes(needle)).map(({ name }) => name))];
}

interface SeenMessage {
  subject: string;
  body: string;
  headers: Array<[string, string]>;
}

function seen(subject: string, data: Uint8Array, msgHeaders: Msg['headers']): SeenMessage {
  const headers: Array<[string, string]> = [];
  if (msgHeaders)
    for (const key of msgHeaders.keys()) for (const v of msgHeaders.values(key)) headers.push([key, v]);
  return { subject, body: Buffer.from(data).toString('latin1'), headers };
}

/** Every message still held by every stream (KV buckets included: they are `KV_*` streams), headers included. */
async function storedMessages(nc: NatsConnection): Promise<Array<SeenMessage & { stream: string }>> {
  const jsm = await jetstreamManager(nc);
  const out: Array<SeenMessage & { stream: string }> = [];
  for await (const info of jsm.streams.list()) {
    const { first_seq: first, last_seq: last } = info.state;
    for (let seq = first; seq > 0 && seq <= last; seq++) {
      const msg = await jsm.streams.getMessage(info.config.name, { seq }).catch(() => null);
      if (msg) out.push({ stream: info.config.name, ...seen(msg.subject, msg.data, msg.header) });
    }
  }
  return out;
}

/** Every row of every table outside the catalogs, as text (`row::text`). */
async function everyRow(url: string): Promise<Array<{ table: string; row: string }>> {
  const psql = async (query: string) =>
    (await run('psql', [url, '-XAt', '-c', query], { maxBuffer: 256 * 1024 * 1024 })).stdout;
  const tables = (
    await psql(
      "select quote_ident(table_schema) || '.' || quote_ident(table_name) from information_schema.tables " +
        "where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE'",
    )
  )
    .split('\n')
    .filter((t) => t !== '');
  const rows: Array<{ table: string; row: string }> = [];
  for (const table of tables)
    for (const row of (await psql(`select t::text from ${table} t`)).split('\n'))
      if (row !== '') rows.push({ table, row });
  return rows;
}

describe('secret scan', { timeout: 300_000 }, () => {
  it('finds no secret in any log, bus message, stream, KV entry or table row; the operator token only in its command header', async () => {
    const nats = await OwnNatsServer.start();
    const pg = await TempPostgres.start();
    const mock = await MockUpstream.start();
    await (await openStore({ databaseUrl: pg.url, migrate: true })).close();
    const tap = await connect({ servers: nats.url });
    const onTheWire: SeenMessage[] = [];
    tap.subscribe('>', {
      callback: (_error, msg) => {
        onTheWire.push(seen(msg.subject, msg.data, msg.headers));
      },
    });
    await tap.flush();

    const common = {
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      IMMUNE_PARTITIONS: '4',
      LOG_LEVEL: 'trace',
      IMMUNE_OPERATOR_TOKENS: `scan-operator:operator:${hashOperatorToken(SECRETS.operatorToken)}`,
    };
    const make = async (app: string, portVariable: string, env: Record<string, string>) => {
      const p = new ServiceProcess(app, await freePort(), { ...common, ...env });
      p.env[portVariable] = String(p.port);
      return p;
    };
    const gateway = await make('gateway', 'GATEWAY_PORT', {
      LLM_UPSTREAM_URL: `${mock.url}/v1`,
      ANTHROPIC_UPSTREAM_URL: mock.url,
    });
    const ingest = await make('ingest', 'INGEST_PORT', { INGEST_API_KEY: SECRETS.ingestKey });
    const sentinel = await make('sentinel', 'SENTINEL_PORT', {});
    const healer = await make('healer', 'HEALER_PORT', {
      HEALER_EXECUTION: 'simulated',
      HEALER_WEBHOOK_SECRET: SECRETS.webhookSecret,
    });
    const dashboard = await make('dashboard', 'DASHBOARD_PORT', {
      DASHBOARD_SESSION_SECRET: SECRETS.sessionSecret,
    });
    const services = [gateway, ingest, sentinel, healer, dashboard];
    try {
      for (const s of services) await s.start();
      const agent = 'scan-agent';
      const json = { 'content-type': 'application/json' };

      // LLM calls with the client's own provider keys, both header styles.
      for (let i = 0; i < 3; i++) {
        const openai = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { ...json, authorization: `Bearer ${SECRETS.openaiKey}`, 'x-immune-agent': agent },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
        });
        expect(openai.status).toBe(200);
        const anthropic = await fetch(`${gateway.url}/v1/messages`, {
          method: 'POST',
          headers: {
            ...json,
            'x-api-key': SECRETS.anthropicKey,
            'anthropic-version': '2023-06-01',
            'x-immune-agent': agent,
          },
          body: JSON.stringify({
            model: 'claude-3-5-haiku-latest',
            max_tokens: 16,
            messages: [{ role: 'user', content: 'hi' }],
          }),
        });
        expect(anthropic.status).toBe(200);
      }
      // Vitals reported to ingest with its key (both ways), and a refused key.
      const ingestAuth: Array<[string, string]> = [
        ['authorization', `Bearer ${SECRETS.ingestKey}`],
        ['x-api-key', SECRETS.ingestKey],
      ];
      for (const auth of ingestAuth) {
        const res = await fetch(`${ingest.url}/api/v1/ingest`, {
          method: 'POST',
          headers: { ...json, [auth[0]]: auth[1] },
          body: JSON.stringify({
            vitals: [
              {
                agent_id: agent,
                kind: 'task',
                latency_ms: 100,
                input_tokens: 10,
                output_tokens: 5,
                success: true,
              },
            ],
          }),
        });
        expect(res.status, await res.clone().text()).toBe(202);
      }
      expect(
        (
          await fetch(`${ingest.url}/api/v1/ingest`, {
            method: 'POST',
            headers: { ...json, authorization: `Bearer ${SECRETS.strangerToken}` },
            body: JSON.stringify({ vitals: [] }),
          })
        ).status,
      ).toBe(401);

      // An operator decision through the gateway's management API: a hand quarantine and release (healer commands).
      const asOperator = { authorization: `Bearer ${SECRETS.operatorToken}` };
      const quarantined = await fetch(`${gateway.url}/api/gateway/quarantine/${agent}`, {
        method: 'POST',
        headers: { ...json, ...asOperator },
        body: JSON.stringify({ reason: 'secret scan' }),
      });
      expect(quarantined.status, await quarantined.clone().text()).toBe(201);
      expect(
        (await fetch(`${gateway.url}/api/gateway/lifecycle/${agent}`, { headers: asOperator })).status,
      ).toBe(200);
      const released = await fetch(`${gateway.url}/api/gateway/quarantine/${agent}`, {
        method: 'DELETE',
        headers: asOperator,
      });
      expect(released.status).toBe(204);
      // A token nobody configured is refused, and not remembered anywhere either.
      expect(
        (
          await fetch(`${gateway.url}/api/gateway/quarantine/${agent}`, {
            headers: { authorization: `Bearer ${SECRETS.strangerToken}` },
          })
        ).status,
      ).toBe(401);

      // The dashboard: a login (session cookie signed with the session secret), a read, a containment command.
      const origin = dashboard.url;
      const login = await fetch(`${dashboard.url}/api/session`, {
        method: 'POST',
        headers: { ...json, origin },
        body: JSON.stringify({ token: SECRETS.operatorToken }),
      });
      expect(login.status).toBeLessThan(300);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      expect((await fetch(`${dashboard.url}/api/agents`, { headers: { cookie } })).status).toBe(200);
      const contained = await fetch(`${dashboard.url}/api/agents/${agent}/quarantine`, {
        method: 'POST',
        headers: { ...json, cookie, origin },
        body: JSON.stringify({ reason: 'secret scan, from the dashboard' }),
      });
      expect(contained.status, await contained.clone().text()).toBe(200);
      const release = await fetch(`${dashboard.url}/api/agents/${agent}/release`, {
        method: 'POST',
        headers: { ...json, ...asOperator },
        body: JSON.stringify({}),
      });
      expect(release.status, await release.clone().text()).toBe(200);
      expect(
        (
          await fetch(`${dashboard.url}/api/session`, {
            method: 'POST',
            headers: { ...json, origin },
            body: JSON.stringify({ token: SECRETS.strangerToken }),
          })
        ).status,
      ).toBe(401);

      // Let the recorder and read models write what they were given, then stop everything so logs are complete.
      await tap.flush();
      for (const s of services) await s.stop();
      await tap.flush();

      const leaks: string[] = [];
      for (const s of services) {
        for (const line of s.logs)
          for (const name of hits(JSON.stringify(line)))
            leaks.push(`${s.app} log: ${name}: ${JSON.stringify(line)}`);
        for (const name of hits(s.stderr.join(''))) leaks.push(`${s.app} stderr: ${name}`);
      }
      let carried = 0;
      for (const m of onTheWire) {
        for (const name of hits(m.body)) leaks.push(`bus ${m.subject} body: ${name}`);
        for (const [key, value] of m.headers) {
          const found = hits(`${key}: ${value}`);
          const allowed =
            key.toLowerCase() === OPERATOR_TOKEN_HEADER.toLowerCase() &&
            m.subject.startsWith('immune.cmd.') &&
            value === SECRETS.operatorToken;
          if (allowed) carried++;
          else for (const name of found) leaks.push(`bus ${m.subject} header ${key}: ${name}`);
        }
      }
      const stored = await storedMessages(tap);
      for (const m of stored) {
        for (const name of hits(m.body)) leaks.push(`stream ${m.stream} ${m.subject} body: ${name}`);
        for (const [key, value] of m.headers) {
          if (key.toLowerCase() === OPERATOR_TOKEN_HEADER.toLowerCase())
            leaks.push(`stream ${m.stream} ${m.subject}: carries ${key}`);
          for (const name of hits(`${key}: ${value}`))
            leaks.push(`stream ${m.stream} ${m.subject} header ${key}: ${name}`);
        }
      }
      const rows = await everyRow(pg.url);
      for (const { table, row } of rows) for (const name of hits(row)) leaks.push(`table ${table}: ${name}`);

      // The scan looked at something: logs at trace, the commands' header, events and KV, rows.
      expect(services.every((s) => s.logs.length > 0)).toBe(true);
      expect(carried).toBeGreaterThanOrEqual(3);
      expect(stored.some((m) => m.stream.startsWith('KV_'))).toBe(true);
      expect(rows.length).toBeGreaterThan(0);
      console.log(
        `secret scan: ${services.reduce((n, s) => n + s.logs.length, 0)} log lines, ${onTheWire.length} bus messages ` +
          `(${carried} operator-token command headers), ${stored.length} stored stream/KV messages, ${rows.length} rows`,
      );
      expect(leaks).toEqual([]);
    } finally {
      for (const s of services) await s.stop().catch(() => undefined);
      await tap.close();
      await mock.close();
      await nats.stop();
      await pg.destroy();
    }
  });
});
