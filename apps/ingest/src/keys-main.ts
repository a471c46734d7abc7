// Operator script for ingest's API keys, against DATABASE_URL (or the embedded PGlite folder):
//   pnpm --filter @immune/ingest keys list | create [--name n] | rotate [--keep-old] [--name n] | revoke <id>
// New keys are printed once to stdout; everything else goes to stderr so `... keys rotate > key.txt` works.
import { ApiKeyRepository, openStore } from '@immune/store';
import { rotateApiKeys } from './keys.js';

const USAGE =
  'usage: keys list | keys create [--name <name>] | keys rotate [--keep-old] [--name <name>] | keys revoke <id>';

const [command, ...rest] = process.argv.slice(2);
const flag = (name: string) => rest.includes(name);
const option = (name: string) => {
  const at = rest.indexOf(name);
  return at >= 0 ? rest[at + 1] : undefined;
};
const say = (text: string) => process.stderr.write(`${text}\n`);

if (command === undefined || !['list', 'create', 'rotate', 'revoke'].includes(command)) {
  say(USAGE);
  process.exit(2);
}

const store = await openStore({
  ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
});
let code = 0;
try {
  const repository = new ApiKeyRepository(store.db);
  if (command === 'list') {
    for (const key of await repository.list({ includeRevoked: flag('--all') })) {
      const state = key.revoked_at === null ? 'active' : `revoked ${new Date(key.revoked_at).toISOString()}`;
      process.stdout.write(`${key.id}\t${key.prefix}…\t${key.name}\t${state}\n`);
    }
  } else if (command === 'create') {
    const { key, apiKey } = await repository.create({ name: option('--name') ?? 'operator' });
    say(`created key ${apiKey.id} (${apiKey.prefix}…); it is shown only now:`);
    process.stdout.write(`${key}\n`);
  } else if (command === 'rotate') {
    const name = option('--name');
    const rotation = await rotateApiKeys(store.db, {
      keepOld: flag('--keep-old'),
      ...(name === undefined ? {} : { name }),
    });
    say(`created key ${rotation.apiKey.id} (${rotation.apiKey.prefix}…); it is shown only now:`);
    process.stdout.write(`${rotation.key}\n`);
    for (const old of rotation.revoked) say(`revoked ${old.id} (${old.prefix}…)`);
  } else {
    const id = rest[0];
    if (id === undefined) {
      say(USAGE);
      code = 2;
    } else if (await repository.revoke(id)) say(`revoked ${id}`);
    else {
      say(`no active key with id ${id}`);
      code = 1;
    }
  }
} finally {
  await store.close();
}
process.exit(code);
