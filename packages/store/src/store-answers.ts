import { sql } from 'kysely';
import type { Store } from './open-store.js';

/**
 * Whether the database answers a trivial query within `timeoutMs`: the readiness check and outage monitor of
 * the services that need PostgreSQL. A pool that cannot get a connection (PostgreSQL stopped) rejects or
 * stalls; both count as not answering.
 */
export async function storeAnswers(store: Pick<Store, 'db'>, timeoutMs = 1_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([sql`select 1`.execute(store.db).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
