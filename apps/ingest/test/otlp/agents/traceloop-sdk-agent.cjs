// An agent that already uses OpenLLMetry (Traceloop's SDK) the way its README says, with nothing of Immune's in
// it: where its traces go, and under which name, comes from the environment the test gives it.
const traceloop = require('@traceloop/node-server-sdk');

traceloop.initialize({ disableBatch: true });
const { default: OpenAI } = require('openai');

async function main() {
  const client = new OpenAI({ maxRetries: 0 });
  const calls = Number(process.env.AGENT_CALLS ?? '2');
  const usage = [];
  for (let i = 0; i < calls; i++) {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: `question ${i}` },
      ],
    });
    usage.push(completion.usage);
  }
  await traceloop.forceFlush();
  process.stdout.write(`${JSON.stringify({ usage })}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
