import { BusEnv } from '@immune/bus';
import { type Config, type OperatorRole, OperatorTokensEnv, Secret, serviceEnv } from '@immune/runtime';
import { StoreEnv } from '@immune/store';
import Type from 'typebox';

/** The two roles: a viewer sees everything, an operator also decides (approve, reject, heal, feedback, ...). */
export type Role = OperatorRole;

/** Everything the dashboard reads from its environment. */
export const DashboardEnv = Type.Object({
  ...serviceEnv('DASHBOARD_PORT', 8090),
  ...BusEnv,
  ...StoreEnv,
  /**
   * Who may log in: the operator tokens every service shares (hashes, `name:role:sha256`; `immune token
   * create` mints one). The dashboard forwards the logged-in token with each command it sends.
   */
  ...OperatorTokensEnv,
  /**
   * Key that signs session cookies (at least 32 characters). Unset: a random key per process, so sessions end
   * when the process restarts and do not carry over between replicas.
   */
  DASHBOARD_SESSION_SECRET: Type.Optional(Secret(Type.String({ minLength: 32 }))),
  /** How long a session lasts after login, ms (default 12 h). */
  DASHBOARD_SESSION_TTL_MS: Type.Integer({ minimum: 60_000, maximum: 30 * 86_400_000, default: 43_200_000 }),
  /** Login attempts per client address per minute. */
  DASHBOARD_LOGIN_RATE_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
  /**
   * Origins (scheme://host[:port]) that may send state-changing requests with the session cookie, besides the
   * dashboard's own (taken from the Host header). Set it when a proxy rewrites Host.
   */
  DASHBOARD_ALLOWED_ORIGINS: Type.Array(Type.String({ pattern: '^https?://[^/]+$' }), { default: [] }),
  /** Mark the cookie Secure (HTTPS only): `auto` when the request came over HTTPS (or X-Forwarded-Proto with TRUST_PROXY). */
  DASHBOARD_COOKIE_SECURE: Type.Enum(['auto', 'always', 'never'], { default: 'auto' }),
  /** Trust X-Forwarded-* from a reverse proxy in front of the dashboard. */
  DASHBOARD_TRUST_PROXY: Type.Boolean({ default: false }),
  /** Live stream: most frames per second per browser, and the heartbeat interval of an idle stream, ms. */
  DASHBOARD_STREAM_FRAME_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
  DASHBOARD_STREAM_HEARTBEAT_MS: Type.Integer({ minimum: 1000, maximum: 120_000, default: 15_000 }),
  /** Folder of the built web app; the build's `dist/web` by default. */
  DASHBOARD_WEB_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** Timeout of a command sent to the healer or the sentinel, ms. */
  DASHBOARD_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 5000 }),
});
export type DashboardConfig = Config<typeof DashboardEnv>;
