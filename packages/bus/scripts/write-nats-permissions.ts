import { writeFileSync } from 'node:fs';
import { NATS_PERMISSION_FILES, natsAuthorizationConfig, nscUsersScript } from '../src/nats-permissions.js';

// Writes every shipped copy of the derived NATS permissions; `nats-permissions.test.ts` fails when one is stale.
for (const path of NATS_PERMISSION_FILES.config) {
  const target = new URL(`../../../${path}`, import.meta.url);
  writeFileSync(target, natsAuthorizationConfig());
  console.log(`wrote ${target.pathname}`);
}
const nsc = new URL(`../../../${NATS_PERMISSION_FILES.nsc}`, import.meta.url);
writeFileSync(nsc, nscUsersScript(), { mode: 0o755 });
console.log(`wrote ${nsc.pathname}`);
