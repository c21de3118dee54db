// Tenant admin: webhooks (create with a signing secret, delete) and each one's deliveries.
import { useState, type FormEvent } from 'react';
import { api, WEBHOOK_EVENTS } from '../api';
import { Empty, ErrorNote, Load } from '../components/states';
import { formatCount, formatWhen } from '../format';
import { useAsync } from '../hooks';
import { Table } from '../components/Table';

function Deliveries({ id }: { id: string }) {
  const deliveries = useAsync(() => api.deliveries(id), [id]);
  return (
    <Load state={deliveries}>
      {(page) => page.items.length === 0 ? <Empty>No deliveries yet.</Empty> : (
        <Table head={<><th>Event</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Created</th><th>Next attempt</th></>}>
              {page.items.map((d) => (
                <tr key={d.id}>
                  <td>{d.event}</td>
                  <td><span className={`badge delivery-${d.status}`}>{d.status}</span></td>
                  <td>{d.attempts}</td>
                  <td className="small">{d.last_status_code ?? ''} {d.last_error ?? ''}</td>
                  <td>{formatWhen(d.created_at)}</td>
                  <td>{d.status === 'pending' ? formatWhen(d.next_attempt_at) : '—'}</td>
                </tr>
              ))}
            </Table>
      )}
    </Load>
  );
}

export function Webhooks() {
  const hooks = useAsync(() => api.webhooks(), []);
  const [error, setError] = useState<Error | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const create = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const body = {
      url: String(f.get('url')).trim(),
      secret: String(f.get('secret')),
      events: f.getAll('events').map(String),
      format: String(f.get('format')),
      description: String(f.get('description') ?? '').trim() || undefined,
    };
    setError(null);
    api.createWebhook(body).then(() => (form.reset(), hooks.reload()), setError);
  };
  return (
    <section>
      <h2>Webhooks</h2>
      <form className="card stacked" onSubmit={create} aria-label="New webhook">
        <label>URL <input name="url" type="url" required placeholder="https://hooks.example.com/metafuse" /></label>
        <label>Signing secret <input name="secret" type="password" required minLength={16} autoComplete="new-password" placeholder="16 characters or more" /></label>
        <fieldset className="checks">
          <legend>Events</legend>
          {WEBHOOK_EVENTS.map((ev) => (
            <label key={ev}><input type="checkbox" name="events" value={ev} defaultChecked={ev === 'schema.breaking_change'} /> {ev}</label>
          ))}
        </fieldset>
        <label>
          Format{' '}
          <select name="format" defaultValue="json">
            <option value="json">JSON (signed)</option>
            <option value="slack">Slack message</option>
          </select>
        </label>
        <label>Description <input name="description" maxLength={500} /></label>
        <button type="submit" className="primary">Add webhook</button>
      </form>
      {error && <ErrorNote error={error} />}
      <Load state={hooks}>
        {(page) => page.items.length === 0 ? <Empty>No webhooks: add one to be told about stale data and breaking changes.</Empty> : (
          <ul className="cards">
            {page.items.map((h) => (
              <li key={h.id} className="card">
                <div className="toolbar">
                  <strong className="mono">{h.url}</strong>
                  <span className="badge">{h.format}</span>
                  <span className="small muted">{h.events.join(', ')}</span>
                  <button type="button" aria-expanded={open === h.id} onClick={() => setOpen(open === h.id ? null : h.id)}>Deliveries</button>
                  <button type="button" className="danger" onClick={() => window.confirm(`Delete the webhook to ${h.url}?`) && api.deleteWebhook(h.id).then(hooks.reload, setError)}>
                    Delete
                  </button>
                </div>
                {h.description && <p className="small muted">{h.description}</p>}
                {open === h.id && <Deliveries id={h.id} />}
              </li>
            ))}
          </ul>
        )}
      </Load>
    </section>
  );
}

export function PlanUsage() {
  const billing = useAsync(() => api.billing(), []);
  const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`;
  return (
    <section>
      <h2>Plan and usage</h2>
      <Load state={billing}>
        {(b) => (
          <>
            <p>Plan <strong>{b.plan}</strong>, {b.month}</p>
            <Table head={<><th>Quota</th><th>Used</th><th>Limit</th><th /></>}>
                  {Object.entries(b.usage).map(([k, u]) => {
                    const share = u.limit ? u.used / u.limit : 0;
                    return (
                      <tr key={k}>
                        <td>{k.replace(/_/g, ' ')}</td>
                        <td>{formatCount(u.used)}</td>
                        <td>{u.limit === null ? 'unlimited' : formatCount(u.limit)}</td>
                        <td><meter min={0} max={1} low={0.8} high={0.95} optimum={0} value={share} aria-label={`${Math.round(share * 100)}% of ${k}`} /></td>
                      </tr>
                    );
                  })}
                </Table>
            <h3>This month's invoice so far</h3>
            <Table>
                  {b.invoice.lines.map((l) => <tr key={l.description}><td>{l.description}</td><td>{l.quantity}</td><td>{money(l.amount, b.invoice.currency)}</td></tr>)}
                  <tr><th>Total</th><td /><th>{money(b.invoice.total, b.invoice.currency)}</th></tr>
                </Table>
          </>
        )}
      </Load>
    </section>
  );
}
