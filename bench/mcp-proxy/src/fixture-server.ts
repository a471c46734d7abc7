import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The benchmark's MCP server: a bare `node:http` Streamable HTTP endpoint (stateless, JSON answers) whose
 * `tools/call` echoes its arguments. As cheap as an MCP server can be, so the proxy's cost is not hidden behind
 * the server's. Prints its port on stdout.
 */
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      id: number;
      params?: { arguments?: unknown };
    };
    const answer = JSON.stringify({
      jsonrpc: '2.0',
      id: body.id,
      result: { content: [{ type: 'text', text: JSON.stringify(body.params?.arguments ?? {}) }] },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  });
});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
