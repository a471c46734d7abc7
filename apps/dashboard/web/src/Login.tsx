import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api } from './api.js';

/** Token login: the token goes to POST /api/session once and is exchanged for an HttpOnly session cookie. */
export function Login() {
  const client = useQueryClient();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const session = await api.login(token);
      setToken('');
      client.setQueryData(['session'], session);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : 'the dashboard did not answer');
    }
  };
  return (
    <main className="login">
      <h1>Immune dashboard</h1>
      <form onSubmit={(event) => void submit(event)} aria-describedby={error ? 'login-error' : undefined}>
        <label htmlFor="token">Access token</label>
        <input
          id="token"
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          required
        />
        <button type="submit">Log in</button>
        {error && (
          <p id="login-error" role="alert" className="error">
            {error}
          </p>
        )}
      </form>
      <p className="hint">
        <code>pnpm start</code> prints a token; <code>immune token create</code> mints one for a deployment
        (configured in <code>IMMUNE_OPERATOR_TOKENS</code>).
      </p>
    </main>
  );
}
