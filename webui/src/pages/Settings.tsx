// Settings. Every member: their API keys. Tenant admins also: members and
// roles, invitations, single sign-on, webhooks, plan and usage, the audit log.
import { useState, type FormEvent, type ReactNode } from 'react';
import { NavLink, Navigate, Route, Routes } from 'react-router-dom';
import { api, ApiError, type AuditEntry, type Role } from '../api';
import { Empty, ErrorNote, Forbidden, Load } from '../components/states';
import { formatWhen } from '../format';
import { useAsync } from '../hooks';
import { hasRole, useSession } from '../session';
import { PlanUsage, Webhooks } from './Webhooks';
import { Table } from '../components/Table';

const ROLES: Role[] = ['viewer', 'editor', 'admin'];

/** Runs an action; its error is shown beside the form, success reloads. */
function useAction() {
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<unknown>, then?: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      then?.();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run };
}

function RoleSelect({ value, onChange, label }: { value: Role; onChange: (r: Role) => void; label: string }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value as Role)}>
      {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
    </select>
  );
}

export function ApiKeys() {
  const { session } = useSession();
  const keys = useAsync(() => api.keys(), []);
  const action = useAction();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
  const isAdmin = hasRole(session, 'admin');
  const [type, setType] = useState<'personal' | 'service'>(session.kind === 'tenant' && session.me.kind === 'user' ? 'personal' : 'service');

  const create = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      const k = await api.createKey({ name: name.trim(), role, type });
      setSecret({ name: k.name, key: k.key ?? '' });
      setName('');
    }, keys.reload);
  };

  return (
    <section>
      <h2>API keys</h2>
      {secret && (
        <div className="card secret" role="alert">
          <p>
            The secret of <strong>{secret.name}</strong>. Copy it now: it is shown only once.
          </p>
          <code data-testid="new-key-secret">{secret.key}</code>
          <div>
            <button type="button" onClick={() => void navigator.clipboard?.writeText(secret.key)}>Copy</button>
            <button type="button" className="link" onClick={() => setSecret(null)}>Done</button>
          </div>
        </div>
      )}
      <form className="card inline-form" onSubmit={create}>
        <label>
          Name <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} name="key_name" />
        </label>
        <label>
          Role <RoleSelect label="Key role" value={role} onChange={setRole} />
        </label>
        {isAdmin && (
          <label>
            Type{' '}
            <select value={type} onChange={(e) => setType(e.target.value as 'personal' | 'service')}>
              {session.kind === 'tenant' && session.me.kind === 'user' && <option value="personal">personal</option>}
              <option value="service">service</option>
            </select>
          </label>
        )}
        <button type="submit" className="primary" disabled={action.busy}>Create key</button>
      </form>
      {action.error && <ErrorNote error={action.error} />}
      <Load state={keys}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No API keys yet.</Empty>
          ) : (
            <Table head={<><th>Name</th><th>Prefix</th><th>Role</th><th>Type</th><th>Created</th><th>Last used</th><th>Status</th><th /></>}>
                  {page.items.map((k) => (
                    <tr key={k.id} data-key-name={k.name}>
                      <td>{k.name}</td>
                      <td className="mono">{k.prefix}</td>
                      <td>{k.role}</td>
                      <td>{k.type}</td>
                      <td>{formatWhen(k.created_at)}</td>
                      <td>{formatWhen(k.last_used_at)}</td>
                      <td>
                        {k.revoked_at ? <span className="badge">revoked</span> : k.expires_at && Date.parse(k.expires_at) < Date.now() ? <span className="badge">expired</span> : <span className="badge ok">active</span>}
                      </td>
                      <td>
                        {!k.revoked_at && (
                          <button
                            type="button"
                            className="danger"
                            onClick={() => window.confirm(`Revoke the key "${k.name}"? Programs using it stop working at once.`) && void action.run(() => api.revokeKey(k.id), keys.reload)}
                          >
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </Table>
          )
        }
      </Load>
    </section>
  );
}

function Members() {
  const members = useAsync(() => api.members(), []);
  const action = useAction();
  return (
    <section>
      <h2>Members</h2>
      {action.error && <ErrorNote error={action.error} />}
      <Load state={members}>
        {(page) => (
          <Table head={<><th>Person</th><th>Role</th><th>Grants</th><th>Joined</th><th>Last sign-in</th><th /></>}>
                {page.items.map((m) => (
                  <tr key={m.user.id}>
                    <td>{m.user.name ?? ''} <span className="muted">{m.user.email}</span></td>
                    <td>
                      <RoleSelect label={`Role of ${m.user.email}`} value={m.role} onChange={(r) => void action.run(() => api.setMemberRole(m.user.id, r), members.reload)} />
                    </td>
                    <td className="small">
                      {m.grants.map((g) => <span key={g.id} className="tag">{g.role} on {g.domain ?? `${g.dataset?.namespace}/${g.dataset?.name}`}</span>)}
                    </td>
                    <td>{formatWhen(m.created_at)}</td>
                    <td>{formatWhen(m.last_login_at)}</td>
                    <td>
                      <button type="button" className="danger" onClick={() => window.confirm(`Remove ${m.user.email} from this tenant?`) && void action.run(() => api.removeMember(m.user.id), members.reload)}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </Table>
        )}
      </Load>
    </section>
  );
}

function Invitations() {
  const invitations = useAsync(() => api.invitations(), []);
  const action = useAction();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const invite = (e: FormEvent) => {
    e.preventDefault();
    void action.run(() => api.invite(email.trim(), role), () => (setEmail(''), invitations.reload()));
  };
  return (
    <section>
      <h2>Invitations</h2>
      <form className="card inline-form" onSubmit={invite}>
        <label>Email <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} /></label>
        <label>Role <RoleSelect label="Invited role" value={role} onChange={setRole} /></label>
        <button type="submit" className="primary" disabled={action.busy}>Invite</button>
      </form>
      {action.error && <ErrorNote error={action.error} />}
      <Load state={invitations}>
        {(page) =>
          page.items.length === 0 ? <Empty>No invitations.</Empty> : (
            <Table head={<><th>Email</th><th>Role</th><th>Status</th><th>Expires</th><th /></>}>
                  {page.items.map((i) => (
                    <tr key={i.id}>
                      <td>{i.email}</td><td>{i.role}</td><td>{i.status}</td><td>{formatWhen(i.expires_at)}</td>
                      <td>{i.status === 'pending' && <button type="button" className="danger" onClick={() => void action.run(() => api.cancelInvitation(i.id), invitations.reload)}>Cancel</button>}</td>
                    </tr>
                  ))}
                </Table>
          )
        }
      </Load>
    </section>
  );
}

function Sso() {
  const sso = useAsync(() => api.sso(), []);
  const action = useAction();
  const [saved, setSaved] = useState(false);
  const save = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    const body: Record<string, unknown> = {
      allowed_domains: text('allowed_domains').split(/[\s,]+/).filter(Boolean),
      default_role: text('default_role'),
    };
    if (text('issuer')) Object.assign(body, { issuer: text('issuer'), client_id: text('client_id') });
    if (text('client_secret')) body.client_secret = text('client_secret');
    setSaved(false);
    void action.run(() => api.saveSso(body), () => (setSaved(true), sso.reload()));
  };
  return (
    <section>
      <h2>Single sign-on</h2>
      <Load state={sso}>
        {(s) => (
          <form className="card stacked" onSubmit={save}>
            <p className="muted small">Leave the issuer empty to use the platform's provider.</p>
            <label>Issuer URL <input name="issuer" type="url" defaultValue={s.issuer ?? ''} /></label>
            <label>Client id <input name="client_id" defaultValue={s.client_id ?? ''} /></label>
            <label>Client secret <input name="client_secret" type="password" placeholder={s.client_secret_set ? '(set; leave empty to keep)' : ''} /></label>
            <label>Allowed email domains <input name="allowed_domains" defaultValue={(s.allowed_domains ?? []).join(', ')} placeholder="example.com" /></label>
            <label>
              Role of new people{' '}
              <select name="default_role" defaultValue={s.default_role ?? 'viewer'}>
                <option value="viewer">viewer</option>
                <option value="editor">editor</option>
              </select>
            </label>
            <button type="submit" className="primary" disabled={action.busy}>Save</button>
            {saved && <span role="status">Saved.</span>}
          </form>
        )}
      </Load>
      {action.error && <ErrorNote error={action.error} />}
    </section>
  );
}

const AUDIT_FILTERS = ['action', 'actor', 'target', 'since', 'until'] as const;

function Audit() {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [pages, setPages] = useState<AuditEntry[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const first = useAsync(async () => {
    const page = await api.audit({ ...filters, limit: 50 });
    setPages([page.items]);
    setCursor(page.next_cursor);
    return page;
  }, [JSON.stringify(filters)]);
  const more = async () => {
    const page = await api.audit({ ...filters, limit: 50, cursor });
    setPages([...pages, page.items]);
    setCursor(page.next_cursor);
  };
  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const next: Record<string, string> = {};
    for (const k of AUDIT_FILTERS) {
      const v = String(f.get(k) ?? '').trim();
      if (v) next[k] = k === 'since' || k === 'until' ? new Date(v).toISOString() : v;
    }
    setFilters(next);
  };
  return (
    <section>
      <h2>Audit log</h2>
      <form className="card inline-form" onSubmit={apply} aria-label="Audit filters">
        <label>Action <input name="action" placeholder="dataset.update" /></label>
        <label>Actor <input name="actor" placeholder="key:0a1b2c3d4e5f" /></label>
        <label>Target <input name="target" placeholder="default/orders" /></label>
        <label>Since <input name="since" type="datetime-local" /></label>
        <label>Until <input name="until" type="datetime-local" /></label>
        <button type="submit">Filter</button>
      </form>
      <Load state={first}>
        {() => {
          const entries = pages.flat();
          return entries.length === 0 ? <Empty>No entries match.</Empty> : (
            <>
              <Table className="audit" head={<><th>When</th><th>Actor</th><th>Action</th><th>Target</th><th>Client</th><th>Request</th></>}>
                    {entries.map((a) => (
                      <tr key={a.id}>
                        <td title={a.at}>{a.at.replace('T', ' ').slice(0, 19)}</td>
                        <td className="mono">{a.actor}</td>
                        <td>{a.action}</td>
                        <td className="mono">{a.target}</td>
                        <td className="mono">{a.client_addr}</td>
                        <td className="mono small">{a.request_id}</td>
                      </tr>
                    ))}
                  </Table>
              {cursor && <button type="button" onClick={() => void more()}>Older entries</button>}
            </>
          );
        }}
      </Load>
    </section>
  );
}

function AdminOnly({ children }: { children: ReactNode }) {
  const { session } = useSession();
  return hasRole(session, 'admin') ? <>{children}</> : <Forbidden role="tenant admin" />;
}

export function SettingsPage() {
  const { session } = useSession();
  const admin = hasRole(session, 'admin');
  const tabs = admin
    ? [['keys', 'API keys'], ['members', 'Members'], ['invitations', 'Invitations'], ['sso', 'Single sign-on'], ['webhooks', 'Webhooks'], ['plan', 'Plan and usage'], ['audit', 'Audit log']]
    : [['keys', 'API keys']];
  return (
    <div className="page settings">
      <h1>Settings</h1>
      <nav className="subnav" aria-label="Settings">
        {tabs.map(([to, label]) => <NavLink key={to} to={`/settings/${to}`}>{label}</NavLink>)}
      </nav>
      <Routes>
        <Route index element={<Navigate to="keys" replace />} />
        <Route path="keys" element={<ApiKeys />} />
        <Route path="members" element={<AdminOnly><Members /></AdminOnly>} />
        <Route path="invitations" element={<AdminOnly><Invitations /></AdminOnly>} />
        <Route path="sso" element={<AdminOnly><Sso /></AdminOnly>} />
        <Route path="webhooks" element={<AdminOnly><Webhooks /></AdminOnly>} />
        <Route path="plan" element={<AdminOnly><PlanUsage /></AdminOnly>} />
        <Route path="audit" element={<AdminOnly><Audit /></AdminOnly>} />
        <Route path="*" element={<ErrorNote error={new ApiError(404, 'not_found', 'No such settings page.')} />} />
      </Routes>
    </div>
  );
}
