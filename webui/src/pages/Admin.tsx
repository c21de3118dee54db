// The platform operator's console: tenants with plan, this month's invoice and
// status; create, change plan, quota overrides, suspend, reactivate; plans; invoices.
import { useState, type FormEvent } from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { api, type Tenant } from '../api';
import { Empty, ErrorNote, Load } from '../components/states';
import { formatWhen } from '../format';
import { useAsync } from '../hooks';
import { InvoicesPage, money, PlansPage, QuotaOverrides } from './Billing';
import { Table } from '../components/Table';

const PLANS = ['free', 'team', 'enterprise'];

function Tenants() {
  const tenants = useAsync(() => api.tenants({ limit: 200 }), []);
  const invoices = useAsync(() => api.invoices(new Date().toISOString().slice(0, 7)), []);
  const [quotasOf, setQuotasOf] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [name, setName] = useState('');
  const [plan, setPlan] = useState('free');

  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      tenants.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const create = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      const r = await api.createTenant(name.trim(), plan);
      setCreated({ name: r.tenant.name, key: r.api_key });
      setName('');
    });
  };
  const statusAction = (t: Tenant) =>
    t.status === 'active' ? (
      <button type="button" className="danger" onClick={() => window.confirm(`Suspend ${t.name}? Its keys and sessions stop at once.`) && void act(() => api.suspendTenant(t.id))}>
        Suspend
      </button>
    ) : (
      <button type="button" onClick={() => void act(() => api.reactivateTenant(t.id))}>Reactivate</button>
    );

  return (
    <div className="page">
      <h1>Tenants</h1>
      {created && (
        <div className="card secret" role="alert">
          <p>Tenant <strong>{created.name}</strong> created. Its first admin key, shown only once:</p>
          <code>{created.key}</code>
          <button type="button" className="link" onClick={() => setCreated(null)}>Done</button>
        </div>
      )}
      <form className="card inline-form" onSubmit={create}>
        <label>Name <input required value={name} onChange={(e) => setName(e.target.value)} name="tenant_name" /></label>
        <label>
          Plan{' '}
          <select value={plan} onChange={(e) => setPlan(e.target.value)}>
            {PLANS.map((p) => <option key={p}>{p}</option>)}
          </select>
        </label>
        <button type="submit" className="primary">Create tenant</button>
      </form>
      {error && <ErrorNote error={error} />}
      <Load state={tenants}>
        {(page) =>
          page.items.length === 0 ? <Empty>No tenants yet.</Empty> : (
            <Table head={<><th>Name</th><th>Plan</th><th>This month</th><th>Status</th><th>Created</th><th /></>}>
                  {page.items.map((t) => {
                    const invoice = invoices.data?.items.find((i) => i.tenant === t.id);
                    return [
                    <tr key={t.id} data-tenant={t.name}>
                      <td>{t.name} <span className="muted small mono">{t.id}</span></td>
                      <td>
                        <select aria-label={`Plan of ${t.name}`} value={t.plan} onChange={(e) => void act(() => api.updateTenant(t.id, { plan: e.target.value }))}>
                          {PLANS.map((p) => <option key={p}>{p}</option>)}
                        </select>
                      </td>
                      <td>{invoice ? money(invoice.total, invoice.currency) : '—'}</td>
                      <td><span className={`badge status-${t.status}`} data-testid="tenant-status">{t.status}</span>{t.purge_after && <span className="small muted"> purge after {t.purge_after.slice(0, 10)}</span>}</td>
                      <td>{formatWhen(t.created_at)}</td>
                      <td>
                        {statusAction(t)}{' '}
                        <button type="button" aria-expanded={quotasOf === t.id} onClick={() => setQuotasOf(quotasOf === t.id ? null : t.id)}>Quotas</button>
                      </td>
                    </tr>,
                    quotasOf === t.id && (
                      <tr key={`${t.id}-quotas`}>
                        <td colSpan={6}><QuotaOverrides tenant={t} onSaved={() => (setQuotasOf(null), tenants.reload())} /></td>
                      </tr>
                    ),
                    ];
                  })}
                </Table>
          )
        }
      </Load>
    </div>
  );
}

export function AdminConsole() {
  return (
    <Routes>
      <Route path="tenants" element={<Tenants />} />
      <Route path="plans" element={<PlansPage />} />
      <Route path="invoices" element={<InvoicesPage />} />
      <Route path="*" element={<Navigate to="tenants" replace />} />
    </Routes>
  );
}
