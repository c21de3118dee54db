// The platform operator's plans, invoices per month (CSV download) and a
// tenant's quota overrides.
import { useState, type FormEvent } from 'react';
import { api, type Tenant } from '../api';
import { Empty, ErrorNote, Load } from '../components/states';
import { formatCount } from '../format';
import { useAsync } from '../hooks';
import { Table } from '../components/Table';

export const QUOTAS = [
  'max_datasets',
  'max_seats',
  'api_calls_per_month',
  'emit_events_per_month',
  'requests_per_second',
  'key_requests_per_second',
  'audit_retention_days',
] as const;

export const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`;
const label = (k: string) => k.replace(/_/g, ' ');

export function PlansPage() {
  const plans = useAsync(() => api.plans(), []);
  return (
    <div className="page">
      <h1>Plans</h1>
      <Load state={plans}>
        {(page) => (
          <Table head={<><th>Limit</th>{page.items.map((p) => <th key={p.name}>{p.name}</th>)}</>}>
                {QUOTAS.map((q) => (
                  <tr key={q}><td>{label(q)}</td>{page.items.map((p) => <td key={p.name}>{formatCount(p.limits[q])}</td>)}</tr>
                ))}
                {Object.keys(page.items[0]?.prices ?? {}).map((k) => (
                  <tr key={k}><td>price: {label(k)}</td>{page.items.map((p) => <td key={p.name}>{money(p.prices[k], p.currency)}</td>)}</tr>
                ))}
              </Table>
        )}
      </Load>
    </div>
  );
}

function thisMonth(): string {
  return new Date().toISOString().slice(0, 7);
}

export function InvoicesPage() {
  const [month, setMonth] = useState(thisMonth);
  const invoices = useAsync(() => api.invoices(month), [month]);
  const [error, setError] = useState<Error | null>(null);
  const csv = async () => {
    setError(null);
    try {
      const blob = await api.invoicesCsv(month);
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `invoices-${month}.csv`;
      a.click();
      URL.revokeObjectURL(a.href);
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <div className="page">
      <h1>Invoices</h1>
      <div className="toolbar">
        <label>Month <input type="month" value={month} max={thisMonth()} onChange={(e) => e.target.value && setMonth(e.target.value)} /></label>
        <button type="button" onClick={() => void csv()}>Download CSV</button>
      </div>
      {error && <ErrorNote error={error} />}
      <Load state={invoices}>
        {(page) => page.items.length === 0 ? <Empty>No invoices for {month}.</Empty> : (
          <Table head={<><th>Tenant</th><th>Plan</th><th>Lines</th><th>Total</th></>}>
                {page.items.map((inv) => (
                  <tr key={inv.tenant}>
                    <td>{inv.tenant_name}</td>
                    <td>{inv.plan}</td>
                    <td className="small">{inv.lines.map((l) => <div key={l.description}>{l.description}: {money(l.amount, inv.currency)}</div>)}</td>
                    <td><strong>{money(inv.total, inv.currency)}</strong></td>
                  </tr>
                ))}
              </Table>
        )}
      </Load>
    </div>
  );
}

/** Per-tenant overrides of the plan's limits: an empty box is the plan's own limit. */
export function QuotaOverrides({ tenant, onSaved }: { tenant: Tenant; onSaved: () => void }) {
  const [error, setError] = useState<Error | null>(null);
  const save = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const quotas = Object.fromEntries(QUOTAS.map((q) => {
      const v = String(f.get(q) ?? '').trim();
      return [q, v === '' ? null : Number(v)];
    }));
    setError(null);
    api.updateTenant(tenant.id, { quotas }).then(onSaved, setError);
  };
  return (
    <form className="inline-form quota-form" onSubmit={save} aria-label={`Quota overrides of ${tenant.name}`}>
      {QUOTAS.map((q) => (
        <label key={q}>
          {label(q)}
          <input name={q} type="number" min={0} step={1} placeholder="plan" defaultValue={tenant.quotas?.[q] ?? ''} />
        </label>
      ))}
      <button type="submit" className="primary">Save overrides</button>
      {error && <ErrorNote error={error} />}
    </form>
  );
}
