import { parseArgs } from 'node:util';
import { type ApiKey, ApiKeyRepository, openStore, type Store } from '@immune/store';
import { CliFailure, EXIT_OK, UsageError } from '../../errors.js';
import type { Command } from '../command.js';

const HELP = `Usage: immune keys <rotate|list|create|revoke> [options]

Ingest's API keys, straight in PostgreSQL (only hashes are stored; a new key is shown once).

  immune keys rotate [--keep-old] [--name N]   create a key and revoke every other active one (one transaction);
                                               --keep-old revokes nothing, so agents can move over first
  immune keys list [--all]                     ids, display prefixes and names (--all: revoked ones too)
  immune keys create [--name N]                add a key
  immune keys revoke <id>                      revoke one key

A new key goes to stdout alone (so \`immune keys rotate > key.txt\` works); messages go to stderr. Running
ingest instances honour a revocation within INGEST_KEY_CACHE_MS (10 s by default).

Options:
  --database URL     PostgreSQL (default $DATABASE_URL; unset: the embedded PGlite folder .immune-data/pglite)
  --schema S         the schema Immune's tables live in, when not the default search path
  --json             one JSON document on stdout: {"keys":[…]} for list, {"id","prefix","name","key"} for create,
                     the same plus "revoked":[ids] for rotate, {"revoked":id} for revoke (never a key hash)
  -h, --help         this help

Examples:
  immune keys rotate --keep-old --name fleet-2 > key.txt
  immune keys list --all --json
  immune keys revoke 3f2c…

Exit codes: 0 done, 1 failure (database unreachable, unknown key), 2 usage error.`;

/** `immune keys`: rotation and housekeeping of ingest's API keys. */
export const keysCommand: Command = {
  name: 'keys',
  summary: "ingest's API keys: rotate, list, create, revoke",
  help: HELP,
  async run(args, io) {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(args);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return EXIT_OK;
    }
    const [action, ...rest] = positionals;
    if (action === undefined) throw new UsageError('name an action: rotate, list, create or revoke');
    if (!['rotate', 'list', 'create', 'revoke'].includes(action))
      throw new UsageError(`unknown action "${action}" (rotate, list, create, revoke)`);
    if (action === 'revoke' && rest.length !== 1) throw new UsageError('revoke takes exactly one key id');
    const say = (text: string) => io.stderr.write(`${text}\n`);
    const json = values.json === true;
    const printJson = (value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return withStore(values.database, values.schema, async (store) => {
      const keys = new ApiKeyRepository(store.db);
      switch (action) {
        case 'list': {
          const listed = await keys.list({ includeRevoked: values.all === true });
          if (json) {
            printJson({ keys: listed });
            return EXIT_OK;
          }
          for (const key of listed) {
            const state =
              key.revoked_at === null ? 'active' : `revoked ${new Date(key.revoked_at).toISOString()}`;
            io.stdout.write(`${key.id}\t${key.prefix}…\t${key.name}\t${state}\n`);
          }
          return EXIT_OK;
        }
        case 'create': {
          const { key, apiKey } = await keys.create({ name: values.name ?? 'operator' });
          say(`created key ${apiKey.id} (${apiKey.prefix}…); it is shown only now:`);
          if (json) printJson({ id: apiKey.id, prefix: apiKey.prefix, name: apiKey.name, key });
          else io.stdout.write(`${key}\n`);
          return EXIT_OK;
        }
        case 'revoke': {
          if (!(await keys.revoke(rest[0]!))) throw new CliFailure(`no active key with id ${rest[0]}`);
          if (json) printJson({ revoked: rest[0] });
          else say(`revoked ${rest[0]}`);
          return EXIT_OK;
        }
        default: {
          const { key, apiKey, revoked } = await store.db.transaction().execute(async (trx) => {
            const repository = new ApiKeyRepository(trx);
            const before = await repository.list();
            const created = await repository.create({ name: values.name ?? 'rotated' });
            const gone: ApiKey[] = [];
            if (values['keep-old'] !== true)
              for (const old of before) if (await repository.revoke(old.id)) gone.push(old);
            return { ...created, revoked: gone };
          });
          say(`created key ${apiKey.id} (${apiKey.prefix}…); it is shown only now:`);
          if (json)
            printJson({
              id: apiKey.id,
              prefix: apiKey.prefix,
              name: apiKey.name,
              key,
              revoked: revoked.map((old) => old.id),
            });
          else io.stdout.write(`${key}\n`);
          for (const old of revoked) say(`revoked ${old.id} (${old.prefix}…)`);
          return EXIT_OK;
        }
      }
    });
  },
};

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      database: { type: 'string' },
      schema: { type: 'string' },
      name: { type: 'string' },
      'keep-old': { type: 'boolean' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
}

async function withStore<T>(
  database: string | undefined,
  schema: string | undefined,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const url = database ?? process.env.DATABASE_URL;
  let store: Store;
  try {
    store = await openStore({ ...(url ? { databaseUrl: url } : {}), ...(schema ? { schema } : {}) });
  } catch (error) {
    throw new CliFailure(`cannot open the database: ${(error as Error).message}`);
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
