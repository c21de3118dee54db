// A dataset's usage (reads day by day), freshness (status and policy) and quality results over time.
import { lazy, Suspense, useState, type FormEvent } from 'react';
import { api, ApiError, type Dataset, type FreshnessPolicy, type QualityResult, type QualitySummary, type UsagePeriod } from '../api';
import { Empty, ErrorNote, Load, Loading } from '../components/states';
import { Table } from '../components/Table';
import { formatWhen } from '../format';
import { useAsync } from '../hooks';
import { hasRole, useSession } from '../session';

const DailyChart = lazy(() => import('../charts').then((m) => ({ default: m.DailyChart })));

/** The dataset's freshness policy, or null when it has none (404). */
function useFreshness(ds: Dataset) {
  return useAsync(
    () => api.freshness(ds).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }),
    [ds.namespace, ds.name, ds.version],
  );
}

export function FreshnessStatus({ ds }: { ds: Dataset }) {
  const f = useFreshness(ds);
  if (f.error) return <span className="muted">unknown</span>;
  if (f.data === undefined) return <span className="muted">…</span>;
  if (f.data === null) return <span className="muted">no policy</span>;
  return (
    <span>
      <span className={`badge fresh-${f.data.status}`} data-testid="freshness-status">{f.data.status}</span>{' '}
      <span className="small muted">due {formatWhen(f.data.due_at)}</span>
    </span>
  );
}

const PERIODS: { id: UsagePeriod; label: string }[] = [
  { id: '1d', label: 'today' },
  { id: '7d', label: '7 days' },
  { id: '30d', label: '30 days' },
];

export function UsageTab({ ds }: { ds: Dataset }) {
  const [period, setPeriod] = useState<UsagePeriod>('30d');
  const usage = useAsync(() => api.usage(ds, period), [ds.namespace, ds.name, period]);
  return (
    <section className="card">
      <div className="toolbar">
        <h2>Usage</h2>
        <div role="group" aria-label="Period">
          {PERIODS.map((p) => (
            <button key={p.id} type="button" aria-pressed={period === p.id} onClick={() => setPeriod(p.id)}>
              {p.label}
            </button>
          ))}
        </div>
      </div>
      <Load state={usage}>
        {(u) => {
          const sum = (k: 'reads' | 'lineage_queries' | 'search_appearances') => u.daily.reduce((s, d) => s + d[k], 0);
          return (
            <>
              <dl className="kpis">
                <div><dt>Reads</dt><dd>{sum('reads')}</dd></div>
                <div><dt>Search appearances</dt><dd>{sum('search_appearances')}</dd></div>
                <div><dt>Lineage queries</dt><dd>{sum('lineage_queries')}</dd></div>
              </dl>
              <Suspense fallback={<Loading label="Loading the chart…" />}>
                <DailyChart title="Reads per day" points={u.daily.map((d) => ({ day: d.day, value: d.reads }))} />
                <DailyChart title="Distinct readers per day" points={u.daily.map((d) => ({ day: d.day, value: d.unique_users }))} />
              </Suspense>
            </>
          );
        }}
      </Load>
    </section>
  );
}

function describePolicy(p: FreshnessPolicy): string {
  const grace = p.grace_period_secs ? `, ${p.grace_period_secs / 60} min grace` : '';
  if (p.cron_schedule) return `on schedule ${p.cron_schedule} (${p.timezone})${grace}`;
  return `every ${(p.expected_interval_secs ?? 0) / 3600} h${grace}`;
}

export function FreshnessTab({ ds }: { ds: Dataset }) {
  const { session } = useSession();
  const f = useFreshness(ds);
  const [error, setError] = useState<Error | null>(null);
  const editor = hasRole(session, 'editor');
  const save = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const hours = Number(form.get('hours'));
    const grace = Number(form.get('grace') || 0);
    setError(null);
    api.setFreshness(ds, { expected_interval_secs: Math.round(hours * 3600), grace_period_secs: Math.round(grace * 60) }).then(f.reload, setError);
  };
  const remove = () => {
    setError(null);
    api.removeFreshness(ds).then(f.reload, setError);
  };
  return (
    <section className="card">
      <h2>Freshness</h2>
      <Load state={f}>
        {(p) => (
          <>
            {p ? (
              <dl className="facts">
                <dt>Status</dt><dd><FreshnessStatus ds={ds} /></dd>
                <dt>Expected</dt><dd>{describePolicy(p)}</dd>
                <dt>Last update</dt><dd>{formatWhen(p.last_update_at)}</dd>
                <dt>Due</dt><dd>{p.due_at ?? '—'}</dd>
                <dt>Stale after</dt><dd>{p.stale_at ?? '—'}</dd>
              </dl>
            ) : (
              <p className="muted">No freshness policy: nobody is told when this dataset stops being updated.</p>
            )}
            {editor && (
              <form className="inline-form" onSubmit={save}>
                <label>
                  Updated every (hours)
                  <input name="hours" type="number" min={0.0167} step="any" required defaultValue={p?.expected_interval_secs ? p.expected_interval_secs / 3600 : 24} />
                </label>
                <label>
                  Grace (minutes)
                  <input name="grace" type="number" min={0} step={1} defaultValue={p ? p.grace_period_secs / 60 : 0} />
                </label>
                <button type="submit" className="primary">{p ? 'Update policy' : 'Set policy'}</button>
                {p && <button type="button" className="danger" onClick={remove}>Remove policy</button>}
              </form>
            )}
          </>
        )}
      </Load>
      {error && <ErrorNote error={error} />}
    </section>
  );
}

const passed = (r: QualityResult) => (r.assertions ?? []).filter((a) => a.success).length;

/** "Quality score 66.67 / 100: 2 of 4 checks failing" (the latest result of each check), or nothing. */
export function QualityScore({ summary }: { summary: QualitySummary | undefined }) {
  if (!summary || summary.score === null) return null;
  return (
    <p data-testid="quality-score" className={summary.failing ? 'badge breaking' : 'badge'}>
      Quality score {summary.score} / 100: {summary.failing} of {summary.checks} {summary.checks === 1 ? 'check' : 'checks'} failing
    </p>
  );
}

export function QualityTab({ ds }: { ds: Dataset }) {
  const results = useAsync(() => api.quality(ds), [ds.namespace, ds.name, ds.version]);
  const summary = useAsync(() => api.qualitySummary(ds), [ds.namespace, ds.name, ds.version]);
  return (
    <section className="card">
      <h2>Quality</h2>
      <QualityScore summary={summary.data} />
      <Load state={results}>
        {(page) => {
          if (page.items.length === 0) return <Empty>No quality results recorded (dbt tests, Great Expectations, OpenLineage quality facets).</Empty>;
          const oldestFirst = [...page.items].reverse().filter((r) => (r.assertions ?? []).length > 0);
          return (
            <>
              {oldestFirst.length > 1 && (
                <Suspense fallback={<Loading label="Loading the chart…" />}>
                  <DailyChart
                    title="Assertions passed, result by result"
                    format={(v) => `${Math.round(v * 100)}%`}
                    points={oldestFirst.map((r) => ({ day: r.at.slice(0, 16).replace('T', ' '), value: passed(r) / r.assertions!.length }))}
                  />
                </Suspense>
              )}
              <Table head={<><th>When</th><th>Run</th><th>Assertions</th><th>Failed</th></>}>
                {page.items.map((r) => {
                  const failed = (r.assertions ?? []).filter((a) => !a.success);
                  const job = r.run ? (typeof r.run.job === 'string' ? r.run.job : r.run.job.name) : null;
                  return (
                    <tr key={r.at + (r.run?.run_id ?? '')} data-quality={failed.length ? 'failed' : 'passed'}>
                      <td title={r.at}>{formatWhen(r.at)}</td>
                      <td>{job ? `${job} (${r.run!.state})` : '—'}</td>
                      <td>{passed(r)} / {(r.assertions ?? []).length} passed</td>
                      <td className="small">
                        {failed.map((a, i) => <span key={i} className="badge breaking">{a.assertion}{a.column ? ` on ${a.column}` : ''}</span>)}
                      </td>
                    </tr>
                  );
                })}
              </Table>
            </>
          );
        }}
      </Load>
    </section>
  );
}
