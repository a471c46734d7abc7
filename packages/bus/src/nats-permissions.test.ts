import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  deploymentPermissions,
  NATS_PERMISSION_FILES,
  natsAuthorizationConfig,
  nscUsersScript,
} from './nats-permissions.js';
import { BUS_USERS } from './service-access.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

describe('NATS permissions derived from the bus contract', () => {
  const permissions = deploymentPermissions();
  const publishers = (subject: string) =>
    BUS_USERS.filter((user) => permissions[user].publish.allow.includes(subject));

  it('every shipped copy is up to date (regenerate: pnpm --filter @immune/bus nats-permissions)', () => {
    for (const path of NATS_PERMISSION_FILES.config) expect(read(path), path).toBe(natsAuthorizationConfig());
    expect(read(NATS_PERMISSION_FILES.nsc)).toBe(nscUsersScript());
  });

  it('only the sentinel and the healer write the quarantine bucket', () => {
    expect(publishers('$KV.immune_quarantine.>')).toEqual(['sentinel', 'healer']);
  });

  it("only operators' clients send the healer's commands; only command servers may answer requests", () => {
    // The gateway's management API relays an operator's hand quarantine and release, and nothing else.
    expect(publishers('immune.cmd.healer.release')).toEqual(['gateway', 'dashboard', 'operator']);
    expect(publishers('immune.cmd.healer.approve')).toEqual(['dashboard', 'operator']);
    expect(publishers('immune.cmd.sentinel.lifecycle')).toEqual([
      'gateway',
      'healer',
      'dashboard',
      'operator',
    ]);
    expect(BUS_USERS.filter((user) => permissions[user].allow_responses)).toEqual(['sentinel', 'healer']);
    for (const user of BUS_USERS) expect(permissions[user].publish.allow).not.toContain('_INBOX.>');
  });

  it('ingest publishes vitals and agent.discovered, and opens no bucket', () => {
    const allow = permissions.ingest.publish.allow;
    expect(allow).toContain('immune.vitals.>');
    expect(allow.filter((s) => s.startsWith('immune.events.'))).toEqual(['immune.events.agent.discovered.*']);
    expect(allow.filter((s) => s.includes('KV_') || s.startsWith('$KV.'))).toEqual([]);
  });

  it('grants events subject by subject: nobody may publish the whole catalogue', () => {
    for (const user of BUS_USERS)
      expect(permissions[user].publish.allow, user).not.toContain('immune.events.>');
    expect(publishers('immune.events.lifecycle.changed.*')).toEqual(['sentinel']);
  });

  it('follows the deployment prefix', () => {
    const other = deploymentPermissions({ prefix: 'staging' });
    expect(other.sentinel.publish.allow).toContain('$KV.staging_quarantine.>');
    expect(JSON.stringify(other)).not.toContain('immune');
  });
});
