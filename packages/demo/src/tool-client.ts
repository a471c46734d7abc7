import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * A demo agent's MCP client: the real `@modelcontextprotocol/sdk` client, pointed at the MCP proxy instead of the
 * demo MCP server, named with `X-Immune-Agent` like the agent's LLM calls. A refused call (quarantine, tool
 * policy) is counted, never thrown: the agent goes on as a real one would.
 */
export class DemoToolClient {
  private client: Promise<Client> | undefined;
  calls = 0;
  refused = 0;

  constructor(
    private readonly url: string,
    private readonly agentId: string,
  ) {}

  async call(tool: string, q: string): Promise<boolean> {
    this.calls++;
    try {
      const client = await this.connect();
      const result = await client.callTool({ name: tool, arguments: { q } });
      return result.isError !== true;
    } catch {
      this.refused++;
      // The session may be gone (quarantine ends the stream): start a fresh one next time.
      const stale = this.client;
      this.client = undefined;
      await stale?.then((c) => c.close()).catch(() => undefined);
      return false;
    }
  }

  private connect(): Promise<Client> {
    this.client ??= (async () => {
      const client = new Client({ name: `demo-${this.agentId}`, version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(this.url), {
          requestInit: { headers: { 'x-immune-agent': this.agentId } },
        }),
      );
      return client;
    })();
    const pending = this.client;
    pending.catch(() => {
      if (this.client === pending) this.client = undefined;
    });
    return pending;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.then((c) => c.close()).catch(() => undefined);
  }
}
