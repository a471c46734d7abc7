import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** The tools of the demo fleet's kinds (see fleet.ts), each answering a short canned text. */
export const DEMO_TOOLS = [
  'web_search',
  'read_url',
  'run_sql',
  'describe_table',
  'run_python',
  'plot_chart',
  'delegate_task',
  'check_status',
] as const;

function buildServer(): McpServer {
  const server = new McpServer({ name: 'immune-demo-tools', version: '1.0.0' });
  for (const tool of DEMO_TOOLS) {
    server.registerTool(
      tool,
      { description: `Demo ${tool.replace('_', ' ')}`, inputSchema: { q: z.string().optional() } },
      async ({ q }) => ({ content: [{ type: 'text', text: `${tool}(${q ?? ''}): ok` }] }),
    );
  }
  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

/**
 * The single-process demo's MCP server: a real `@modelcontextprotocol/sdk` server (Streamable HTTP, stateless,
 * JSON answers) at `/mcp`, which the demo fleet reaches through the MCP proxy.
 */
export async function startDemoMcpServer(port: number): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if ((req.url ?? '').split('?')[0] !== '/mcp') {
        res.writeHead(404).end();
        return;
      }
      // Stateless: there is no session for a server-initiated stream to belong to (the SDK's own stateless
      // example answers GET the same way), and an open GET would hold the proxy's shutdown until its timeout.
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST', 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: null,
            error: { code: -32000, message: 'Method not allowed.' },
          }),
        );
        return;
      }
      const server = buildServer();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, await readJson(req));
    })().catch(() => {
      if (!res.headersSent) res.writeHead(400);
      res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const address = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
