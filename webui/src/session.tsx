// Who is signed in: a tenant member (session cookie or tenant API key) or a
// platform operator (platform key: /api/v1/me refuses it, the admin routes do not).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, setApiKey, setCsrfToken, type Me, type Role } from './api';

export type Session =
  | { kind: 'loading' }
  | { kind: 'signed_out'; error?: string }
  | { kind: 'tenant'; me: Me }
  | { kind: 'platform' };

interface SessionApi {
  session: Session;
  refresh: () => Promise<void>;
  signInWithKey: (key: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

const ROLE_RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

/** Whether the signed-in tenant member holds at least `role` tenant-wide. */
export function hasRole(session: Session, role: Role): boolean {
  return session.kind === 'tenant' && ROLE_RANK[session.me.role] >= ROLE_RANK[role];
}

async function resolve(): Promise<Session> {
  try {
    const me = await api.me();
    setCsrfToken(me.csrf_token);
    return { kind: 'tenant', me };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 403 && err.code === 'forbidden') {
      // A platform key: no tenant, only /api/v1/admin.
      await api.tenants({ limit: 1 });
      return { kind: 'platform' };
    }
    if (err.status === 401) return { kind: 'signed_out' };
    return { kind: 'signed_out', error: err.message };
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session>({ kind: 'loading' });

  const refresh = useCallback(async () => {
    try {
      setSession(await resolve());
    } catch (err) {
      setSession({ kind: 'signed_out', error: err instanceof Error ? err.message : String(err) });
    }
  }, []);

  const signInWithKey = useCallback(async (key: string) => {
    setApiKey(key);
    let next: Session;
    try {
      next = await resolve();
    } catch (err) {
      next = { kind: 'signed_out', error: err instanceof Error ? err.message : String(err) };
    }
    if (next.kind === 'signed_out') {
      setApiKey(null);
      next = { kind: 'signed_out', error: next.error ?? 'This API key was not accepted.' };
    }
    setSession(next);
  }, []);

  const signOut = useCallback(async () => {
    if (session.kind === 'tenant' && session.me.kind === 'user') await api.logout().catch(() => undefined);
    setApiKey(null);
    setCsrfToken(undefined);
    setSession({ kind: 'signed_out' });
  }, [session]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const value = useMemo(() => ({ session, refresh, signInWithKey, signOut }), [session, refresh, signInWithKey, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession outside SessionProvider');
  return ctx;
}
