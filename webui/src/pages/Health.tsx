// The catalog's health: documentation coverage, stale, unused and ownerless
// datasets, breaking changes, with their trend and by owner.
import { lazy, Suspense } from 'react';
import { Link } from 'react-router-dom';
import { api, type HealthFigures } from '../api';
import { Empty, Load, Loading } from '../components/states';
import { datasetUrl, formatWhen } from '../format';
import { useAsync } from '../hooks';
import { Table } from '../components/Table';

const DailyChart = lazy(() => import('../charts').then((m) => ({ default: m.DailyChart })));
const pct = (v: number) => `${Math.round(v * 100)}%`;

const COUNTS: [keyof HealthFigures, string][] = [
  ['datasets', 'Datasets'],
  ['stale', 'Stale'],
  ['unused', 'Unused (30 days)'],
  ['without_owner', 'Without owner'],
  ['without_description', 'Without description'],
  ['failing_quality', 'Failing quality'],
  ['breaking_changes_7d', 'Breaking changes (7 days)'],
];

export function HealthPage() {
  const health = useAsync(() => api.health(), []);
  const violations = useAsync(() => api.violations(), []);
  const unused = useAsync(() => api.unused(30), []);
  return (
    <div className="page">
      <h1>Catalog health</h1>
      <Load state={health}>
        {(h) => (
          <>
            <p className="muted small">As of {formatWhen(h.as_of)}</p>
            <dl className="kpis" data-testid="health-summary">
              {COUNTS.map(([k, label]) => (
                <div key={k} className={k !== 'datasets' && h.summary[k] > 0 ? 'warn' : undefined}>
                  <dt>{label}</dt>
                  <dd>{h.summary[k]}</dd>
                </div>
              ))}
              <div><dt>Documented datasets</dt><dd>{pct(h.summary.documentation_coverage)}</dd></div>
              <div><dt>Documented fields</dt><dd>{pct(h.summary.field_documentation_coverage)}</dd></div>
            </dl>
            <div className="grid two">
              <Suspense fallback={<Loading label="Loading charts…" />}>
                <DailyChart title="Stale datasets per day" points={h.trend.map((t) => ({ day: t.day, value: t.stale }))} />
                <DailyChart title="Documentation coverage per day" format={pct} points={h.trend.map((t) => ({ day: t.day, value: t.documentation_coverage }))} />
              </Suspense>
            </div>
            <h2>By owner</h2>
            <Table head={<><th>Owner</th><th>Datasets</th><th>Stale</th><th>Unused</th><th>No description</th><th>Documented</th></>}>
                  {h.by_owner.map((o) => (
                    <tr key={o.owner ?? '(none)'}>
                      <td>{o.owner ?? <span className="muted">(no owner)</span>}</td>
                      <td>{o.datasets}</td><td>{o.stale}</td><td>{o.unused}</td><td>{o.without_description}</td><td>{pct(o.documentation_coverage)}</td>
                    </tr>
                  ))}
                </Table>
          </>
        )}
      </Load>
      <div className="grid two">
        <section className="card">
          <h2>Freshness violations</h2>
          <Load state={violations}>
            {(page) => page.items.length === 0 ? <Empty>Every dataset with a freshness policy is on time.</Empty> : (
              <ul className="rows">
                {page.items.map((v) => (
                  <li key={`${v.dataset.namespace}/${v.dataset.name}`}>
                    <Link to={datasetUrl(v.dataset.namespace, v.dataset.name, 'freshness')}>{v.dataset.name}</Link>{' '}
                    <span className={`badge fresh-${v.status}`}>{v.status}</span>{' '}
                    <span className="small muted">last update {formatWhen(v.last_update_at)}</span>
                  </li>
                ))}
              </ul>
            )}
          </Load>
        </section>
        <section className="card">
          <h2>Unused for 30 days</h2>
          <Load state={unused}>
            {(page) => page.items.length === 0 ? <Empty>Every dataset was read in the last 30 days.</Empty> : (
              <ul className="rows">
                {page.items.map((d) => (
                  <li key={`${d.namespace}/${d.name}`}>
                    <Link to={datasetUrl(d.namespace, d.name, 'usage')}>{d.name}</Link>{' '}
                    <span className="small muted">{d.last_read_day ? `last read ${d.last_read_day}` : 'never read'}</span>
                  </li>
                ))}
              </ul>
            )}
          </Load>
        </section>
      </div>
    </div>
  );
}
