// Home: search with autocomplete, popular and recently changed datasets, the catalog's health at a glance.
import { lazy, Suspense } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../api';
import { SearchBox } from '../components/SearchBox';
import { Empty, Load, Loading, Tags } from '../components/states';
import { datasetUrl, formatCount, formatWhen } from '../format';
import { useAsync } from '../hooks';

const BarChart = lazy(() => import('../charts'));
const RECENT_DAYS = 30;

export function HomePage() {
  const stats = useAsync(() => api.stats(), []);
  const popular = useAsync(() => api.popular('7d'), []);
  const health = useAsync(() => api.health(), []);
  const recent = useAsync(async () => {
    const since = new Date(Date.now() - RECENT_DAYS * 86400_000).toISOString();
    const page = await api.datasets({ updated_since: since, limit: 200 });
    return page.items
      .filter((d) => !d.placeholder)
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
      .slice(0, 8);
  }, []);

  return (
    <div className="page home">
      <section className="hero">
        <h1>Find and trust your data</h1>
        <SearchBox autoFocus />
      </section>
      <div className="grid two">
        <section className="card">
          <h2>Popular this week</h2>
          <Load state={popular}>
            {(page) =>
              page.items.length === 0 ? (
                <Empty>No dataset was read this week.</Empty>
              ) : (
                <ol className="rows" data-testid="popular">
                  {page.items.map((d) => (
                    <li key={`${d.namespace}/${d.name}`}>
                      <Link to={datasetUrl(d.namespace, d.name)}>{d.name}</Link>
                      <span className="muted small"> {d.reads} read{d.reads === 1 ? '' : 's'}</span>
                    </li>
                  ))}
                </ol>
              )
            }
          </Load>
        </section>
        <section className="card">
          <h2>Recently changed</h2>
          <Load state={recent}>
            {(items) =>
              items.length === 0 ? (
                <Empty>No dataset changed in the last {RECENT_DAYS} days.</Empty>
              ) : (
                <ul className="rows">
                  {items.map((d) => (
                    <li key={d.id}>
                      <Link to={datasetUrl(d.namespace, d.name)}>{d.name}</Link>
                      <span className="muted small"> {d.namespace !== 'default' && `${d.namespace} · `}{formatWhen(d.updated_at)}</span>
                      <Tags tags={d.tags} />
                    </li>
                  ))}
                </ul>
              )
            }
          </Load>
        </section>
        <section className="card" aria-labelledby="health-h">
          <h2 id="health-h">Catalog at a glance</h2>
          {health.data && (
            <p className="small">
              <Link to="/health">
                {health.data.summary.stale} stale, {health.data.summary.unused} unused,{' '}
                {Math.round(health.data.summary.documentation_coverage * 100)}% documented
              </Link>
            </p>
          )}
          <Load state={stats}>
            {(s) => (
              <>
                <dl className="kpis">
                  <div><dt>Datasets</dt><dd>{formatCount(s.datasets)}</dd></div>
                  <div><dt>Fields</dt><dd>{formatCount(s.fields)}</dd></div>
                  <div><dt>Lineage edges</dt><dd>{formatCount(s.lineage_edges)}</dd></div>
                  <div><dt>Column lineage</dt><dd>{formatCount(s.column_lineage_edges)}</dd></div>
                  <div><dt>Glossary terms</dt><dd>{formatCount(s.glossary_terms)}</dd></div>
                  <div className={s.placeholders ? 'warn' : undefined}>
                    <dt title="Datasets known only as someone's upstream">Placeholders</dt>
                    <dd>{formatCount(s.placeholders ?? 0)}</dd>
                  </div>
                </dl>
                <Suspense fallback={<Loading label="Loading charts…" />}>
                  {s.top_domains.length > 0 && (
                    <BarChart title="Datasets by domain" bars={s.top_domains.map((d) => ({ label: d.domain, value: d.datasets }))} />
                  )}
                  {s.top_formats.length > 0 && (
                    <BarChart title="Datasets by format" bars={s.top_formats.map((f) => ({ label: f.format, value: f.datasets }))} />
                  )}
                </Suspense>
              </>
            )}
          </Load>
        </section>
      </div>
    </div>
  );
}
