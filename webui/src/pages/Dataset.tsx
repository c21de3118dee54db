// A dataset: overview (with its freshness), schema, schema versions with a
// side-by-side diff (breaking changes marked), the runs of the jobs that
// write it, quality results over time, usage day by day, and its freshness policy.
import { useEffect, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { api, nodeId, parseNodeId, type Dataset, type DatasetRef, type Field, type FieldClass, type SchemaDiff } from '../api';
import { Empty, Load, Tags } from '../components/states';
import { datasetUrl, formatBytes, formatCount, formatWhen } from '../format';
import { useAsync } from '../hooks';
import { FreshnessStatus, FreshnessTab, QualityTab, UsageTab } from './DatasetInsights';
import { Table } from '../components/Table';

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'schema', label: 'Schema' },
  { id: 'versions', label: 'Versions' },
  { id: 'runs', label: 'Runs' },
  { id: 'quality', label: 'Quality' },
  { id: 'usage', label: 'Usage' },
  { id: 'freshness', label: 'Freshness' },
] as const;

function Overview({ ds }: { ds: Dataset }) {
  const op = ds.operational ?? {};
  const refs = (list: DatasetRef[]) =>
    list.length === 0 ? <span className="muted">none</span> : list.map((r) => (
      <Link key={`${r.namespace}/${r.name}`} to={datasetUrl(r.namespace, r.name)} className="ref">
        {r.namespace === ds.namespace ? r.name : `${r.namespace}/${r.name}`}
      </Link>
    ));
  return (
    <div className="grid two">
      <section className="card">
        <p>{ds.description || <span className="muted">No description.</span>}</p>
        <dl className="facts">
          <dt>Owner</dt><dd>{ds.owner ?? '—'}</dd>
          <dt>Domain</dt><dd>{ds.domain ?? '—'}</dd>
          <dt>Tags</dt><dd><Tags tags={ds.tags} />{ds.tags.length === 0 && '—'}</dd>
          <dt>Format</dt><dd>{ds.format ?? '—'}</dd>
          <dt>Path</dt><dd className="mono">{ds.path ?? '—'}</dd>
          <dt>Rows</dt><dd>{formatCount(op.row_count)}</dd>
          <dt>Size</dt><dd>{formatBytes(op.size_bytes)}</dd>
          <dt>Updated</dt><dd title={ds.updated_at}>{formatWhen(ds.updated_at)}</dd>
          <dt>Freshness</dt><dd><FreshnessStatus ds={ds} /></dd>
          <dt>Version</dt><dd>{ds.version} (schema {ds.schema_version})</dd>
        </dl>
      </section>
      <section className="card">
        <h2>Lineage</h2>
        <dl className="facts">
          <dt>Upstream</dt><dd>{refs(ds.upstream)}</dd>
          <dt>Downstream</dt><dd>{refs(ds.downstream)}</dd>
        </dl>
        <Link className="button" to={`/lineage?node=${encodeURIComponent(nodeId('dataset', ds.namespace, ds.name))}`}>
          Open the lineage graph
        </Link>
      </section>
    </div>
  );
}

/** A field's classes that stand (rejected ones left out), e.g. "pii.email", marked when only suggested. */
export function FieldClasses({ classes }: { classes: FieldClass[] | undefined }) {
  const standing = (classes ?? []).filter((c) => c.status !== 'rejected');
  return (
    <>
      {standing.map((c) => (
        <span
          key={c.class}
          className={c.sensitivity === 'restricted' || c.sensitivity === 'confidential' ? 'badge breaking' : 'badge'}
          data-class={c.class}
          title={`${c.sensitivity}; ${c.status === 'verified' ? 'verified by a person' : `suggested (${c.source})`}` +
            (c.may_be_anonymised ? '; may be anonymised upstream' : '')}
        >
          {c.class}{c.status === 'suggested' ? '?' : ''}
        </span>
      ))}
    </>
  );
}

function SchemaTable({ fields, lineageOf }: { fields: Field[]; lineageOf?: DatasetRef }) {
  // classes only for the current schema (lineageOf), not for past versions
  const classification = useAsync(
    () => (lineageOf ? api.classification(lineageOf) : Promise.resolve(undefined)),
    [lineageOf?.namespace, lineageOf?.name],
  );
  const classesOf = (name: string) => classification.data?.fields.find((f) => f.name === name)?.classes;
  if (fields.length === 0) return <Empty>No fields recorded.</Empty>;
  return (
    <Table head={<><th>Field</th><th>Type</th><th>Nullable</th><th>Description</th><th>Tags</th>{lineageOf && <><th>Classes</th><th /></>}</>}>
          {fields.map((f) => (
            <tr key={f.name}>
              <td className="mono">{f.name}</td>
              <td className="mono">{f.type}</td>
              <td>{f.nullable ? 'yes' : 'no'}</td>
              <td>{f.description}</td>
              <td><Tags tags={f.tags} /></td>
              {lineageOf && <td><FieldClasses classes={classesOf(f.name)} /></td>}
              {lineageOf && (
                <td>
                  <Link to={`/lineage?node=${encodeURIComponent(nodeId('datasetField', lineageOf.namespace, lineageOf.name, f.name))}`}>
                    column lineage
                  </Link>
                </td>
              )}
            </tr>
          ))}
        </Table>
  );
}

type RowState = 'same' | 'added' | 'removed' | 'changed';

/** Why a change breaks readers, or null: removed, type changed, made non-nullable. */
export function breakingReason(diff: SchemaDiff, name: string): string | null {
  if (diff.removed.some((f) => f.name === name)) return 'removed';
  const c = diff.changed.find((x) => x.name === name);
  if (!c) return null;
  if (c.from.type !== c.to.type) return `type ${c.from.type} → ${c.to.type}`;
  if (c.from.nullable && !c.to.nullable) return 'now non-nullable';
  return null;
}

export function DiffView({ diff, left, right }: { diff: SchemaDiff; left: Field[]; right: Field[] }) {
  const state = (name: string, side: 'left' | 'right'): RowState => {
    if (side === 'left' && diff.removed.some((f) => f.name === name)) return 'removed';
    if (side === 'right' && diff.added.some((f) => f.name === name)) return 'added';
    return diff.changed.some((c) => c.name === name) ? 'changed' : 'same';
  };
  const column = (fields: Field[], side: 'left' | 'right', version: number) => (
    <div className="diff-side">
      <h3>Version {version}</h3>
      <table>
        <tbody>
          {fields.map((f) => {
            const s = state(f.name, side);
            const reason = side === 'left' || s === 'changed' ? breakingReason(diff, f.name) : null;
            return (
              <tr key={f.name} className={`diff-${s}`} data-state={s}>
                <td className="mono">{s === 'added' ? '+ ' : s === 'removed' ? '− ' : s === 'changed' ? '~ ' : '  '}{f.name}</td>
                <td className="mono">{f.type}{f.nullable ? '' : ' not null'}</td>
                <td>{reason && <span className="badge breaking" title={reason}>breaking: {reason}</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
  return (
    <div>
      <p className={diff.breaking ? 'diff-summary breaking' : 'diff-summary'} role="status">
        {diff.breaking ? 'Breaking changes' : 'No breaking change'}: {diff.added.length} added, {diff.removed.length} removed,{' '}
        {diff.changed.length} changed.
      </p>
      <div className="diff">
        {column(left, 'left', diff.from)}
        {column(right, 'right', diff.to)}
      </div>
    </div>
  );
}

function Versions({ ds }: { ds: Dataset }) {
  const versions = useAsync(() => api.versions(ds), [ds.namespace, ds.name, ds.schema_version]);
  const [pick, setPick] = useState<{ from: number; to: number } | null>(null);
  const list = versions.data?.items ?? [];
  const latest = list[0]?.version;
  const chosen = pick ?? (latest && latest > 1 ? { from: latest - 1, to: latest } : null);
  const diff = useAsync(async () => {
    if (!chosen) return null;
    const [d, l, r] = await Promise.all([
      api.schemaDiff(ds, chosen.from, chosen.to),
      api.version(ds, chosen.from),
      api.version(ds, chosen.to),
    ]);
    return { d, l: l.fields, r: r.fields };
  }, [ds.namespace, ds.name, chosen?.from, chosen?.to]);

  return (
    <Load state={versions}>
      {(page) => (
        <div>
          <Table head={<><th>Schema version</th><th>Created</th><th>Fields</th><th /></>}>
                {page.items.map((v) => (
                  <tr key={v.version}>
                    <td>{v.version}</td>
                    <td title={v.created_at}>{formatWhen(v.created_at)}</td>
                    <td>{v.field_count}</td>
                    <td>{v.breaking && <span className="badge breaking">breaking</span>}</td>
                  </tr>
                ))}
              </Table>
          {page.items.length < 2 ? (
            <Empty>Only one schema version so far: nothing to compare.</Empty>
          ) : (
            <>
              <div className="toolbar">
                <label>
                  Compare
                  <select value={chosen?.from} onChange={(e) => setPick({ from: Number(e.target.value), to: chosen!.to })}>
                    {page.items.map((v) => <option key={v.version} value={v.version}>{v.version}</option>)}
                  </select>
                </label>
                <label>
                  with
                  <select value={chosen?.to} onChange={(e) => setPick({ from: chosen!.from, to: Number(e.target.value) })}>
                    {page.items.map((v) => <option key={v.version} value={v.version}>{v.version}</option>)}
                  </select>
                </label>
              </div>
              <Load state={diff}>{(x) => (x ? <DiffView diff={x.d} left={x.l} right={x.r} /> : null)}</Load>
            </>
          )}
        </div>
      )}
    </Load>
  );
}

function Runs({ ds }: { ds: Dataset }) {
  const runs = useAsync(async () => {
    const graph = await api.graph(nodeId('dataset', ds.namespace, ds.name), 1, 'up');
    const jobs = graph.nodes.filter((n) => n.type === 'job').map((n) => parseNodeId(n.id).parts);
    return Promise.all(jobs.map(async ([namespace, name]) => ({ namespace, name, runs: (await api.jobRuns(namespace, name)).items })));
  }, [ds.namespace, ds.name]);
  return (
    <Load state={runs}>
      {(jobs) =>
        jobs.length === 0 ? (
          <Empty>No job has reported writing this dataset.</Empty>
        ) : (
          <>
            {jobs.map((j) => (
              <section key={`${j.namespace}/${j.name}`} className="card">
                <h3>{j.name} <span className="muted small">{j.namespace}</span></h3>
                {j.runs.length === 0 ? <Empty>No runs yet.</Empty> : (
                  <Table head={<><th>State</th><th>Started</th><th>Ended</th><th>Duration</th><th>Error</th></>}>
                        {j.runs.map((r, i) => (
                          <tr key={String(r.run_id ?? i)}>
                            <td><span className={`badge state-${String(r.state).toLowerCase()}`}>{r.state}</span></td>
                            <td>{formatWhen(r.started_at)}</td>
                            <td>{formatWhen(r.ended_at)}</td>
                            <td>{typeof r.duration_ms === 'number' ? `${(r.duration_ms / 1000).toFixed(1)} s` : '—'}</td>
                            <td>{String(r.error_message ?? '')}</td>
                          </tr>
                        ))}
                      </Table>
                )}
              </section>
            ))}
          </>
        )
      }
    </Load>
  );
}

export function DatasetPage() {
  const { namespace = 'default', name = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') ?? 'overview';
  const ds = useAsync(() => api.dataset({ namespace, name }), [namespace, name]);

  useEffect(() => {
    // For tests/e2e/measure.mjs: when the dataset's content is on screen.
    if (ds.data) performance.mark('mf-dataset-ready');
  }, [ds.data]);

  return (
    <div className="page dataset">
      <Load state={ds}>
        {(d) => (
          <>
            <header className="page-head">
              <h1>{d.name}</h1>
              <span className="muted">{d.namespace}</span>
              {d.placeholder && <span className="badge warn" title="Known only as someone's upstream">placeholder</span>}
            </header>
            <div className="tabs" role="tablist">
              {TABS.map((t) => (
                <button
                  key={t.id}
                  type="button"
                  role="tab"
                  aria-selected={tab === t.id}
                  onClick={() => setParams(t.id === 'overview' ? {} : { tab: t.id }, { replace: true })}
                >
                  {t.label}
                </button>
              ))}
            </div>
            <div role="tabpanel">
              {tab === 'overview' && <Overview ds={d} />}
              {tab === 'schema' && <SchemaTable fields={d.fields} lineageOf={d} />}
              {tab === 'versions' && <Versions ds={d} />}
              {tab === 'runs' && <Runs ds={d} />}
              {tab === 'quality' && <QualityTab ds={d} />}
              {tab === 'usage' && <UsageTab ds={d} />}
              {tab === 'freshness' && <FreshnessTab ds={d} />}
            </div>
          </>
        )}
      </Load>
    </div>
  );
}
