// Sign in: single sign-on through the tenant's provider (GET /auth/login), or
// an API key for local use (kept in this tab's sessionStorage only).
import { useState, type FormEvent } from 'react';
import { useLocation } from 'react-router-dom';
import { useSession } from '../session';

const TENANT_STORAGE = 'mf.tenant';

export function SignInPage() {
  const { session, signInWithKey } = useSession();
  const location = useLocation();
  const from = (location.state as { from?: { pathname: string; search: string } } | null)?.from;
  const returnTo = from ? from.pathname + from.search : '/';
  const [tenant, setTenant] = useState(() => localStorage.getItem(TENANT_STORAGE) ?? '');
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);

  const sso = (e: FormEvent) => {
    e.preventDefault();
    localStorage.setItem(TENANT_STORAGE, tenant.trim());
    const q = new URLSearchParams({ tenant: tenant.trim(), return_to: returnTo });
    window.location.assign(`/auth/login?${q}`);
  };

  const withKey = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    await signInWithKey(key.trim());
    setBusy(false);
  };

  return (
    <main className="signin" id="main">
      <h1>MetaFuse</h1>
      <p className="muted">Sign in to your data catalog.</p>
      {session.kind === 'signed_out' && session.error && (
        <div className="state error" role="alert">
          {session.error}
        </div>
      )}
      <form onSubmit={sso} className="card">
        <h2>Single sign-on</h2>
        <label>
          Organisation
          <input
            name="tenant"
            required
            autoComplete="organization"
            placeholder="your tenant's name"
            value={tenant}
            onChange={(e) => setTenant(e.target.value)}
          />
        </label>
        <button type="submit" className="primary">
          Sign in with single sign-on
        </button>
      </form>
      <form onSubmit={withKey} className="card">
        <h2>API key</h2>
        <p className="muted small">For local use: the key stays in this browser tab only.</p>
        <label>
          API key
          <input
            name="api_key"
            type="password"
            required
            autoComplete="off"
            placeholder="mf_live_…"
            value={key}
            onChange={(e) => setKey(e.target.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in with API key'}
        </button>
      </form>
    </main>
  );
}
