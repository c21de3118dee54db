// Search: results with highlights and facets with counts; the query and the
// filters live in the URL, so a search can be shared.
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, type SearchItem, type SearchResult } from '../api';
import { SearchBox } from '../components/SearchBox';
import { Empty, Load, Tags } from '../components/states';
import { datasetUrl, parseSnippet } from '../format';
import { useAsync } from '../hooks';

export const FACETS = ['kind', 'domain', 'owner', 'tag', 'format', 'namespace'] as const;

function Snippet({ html }: { html: string }) {
  return (
    <span className="snippet">
      {parseSnippet(html).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </span>
  );
}

function itemLink(item: SearchItem): string {
  if (item.kind === 'dataset') return datasetUrl(item.namespace ?? 'default', item.name);
  if (item.kind === 'field') return datasetUrl(item.namespace ?? 'default', item.dataset ?? '', 'schema');
  return `/glossary?term=${encodeURIComponent(item.name)}`;
}

function Result({ item }: { item: SearchItem }) {
  return (
    <li className="result">
      <div>
        <span className={`kind kind-${item.kind}`}>{item.kind}</span>
        <Link to={itemLink(item)} className="result-name">
          {item.kind === 'field' ? `${item.dataset}.${item.name}` : item.name}
        </Link>
        {item.namespace && item.namespace !== 'default' && <span className="muted small"> {item.namespace}</span>}
      </div>
      <div className="small">
        <Snippet html={item.snippet} />
      </div>
      {item.description && item.match !== 'description' && <div className="muted small">{item.description}</div>}
      <div className="small muted">
        {[item.domain, item.owner, item.format].filter(Boolean).join(' · ')} <Tags tags={item.tags} />
      </div>
    </li>
  );
}

export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const filters = Object.fromEntries(FACETS.map((f) => [f, params.get(f) ?? undefined]));
  const key = params.toString();
  const [more, setMore] = useState<{ key: string; pages: SearchResult[] }>({ key, pages: [] });
  const first = useAsync(() => (q ? api.search({ q, ...filters, limit: 20 }) : Promise.resolve(undefined)), [key]);
  const extra = more.key === key ? more.pages : [];

  const toggle = (facet: string, value: string) => {
    const next = new URLSearchParams(params);
    if (next.get(facet) === value) next.delete(facet);
    else next.set(facet, value);
    setParams(next);
  };

  const loadMore = async (cursor: string) => {
    const page = await api.search({ q, ...filters, limit: 20, cursor });
    setMore({ key, pages: [...extra, page] });
  };

  return (
    <div className="page search">
      <SearchBox key={q} initial={q} />
      {!q ? (
        <Empty>Type a name, a field, a tag or a word of a description.</Empty>
      ) : (
        <Load state={first}>
          {(res) => {
            if (!res) return null;
            const items = [res, ...extra].flatMap((p) => p.items);
            const cursor = (extra.length ? extra[extra.length - 1] : res).next_cursor;
            return (
              <div className="with-sidebar">
                <aside className="facets" aria-label="Filters">
                  {FACETS.map((f) =>
                    (res.facets[f] ?? []).length === 0 && !filters[f] ? null : (
                      <fieldset key={f}>
                        <legend>{f}</legend>
                        {(res.facets[f] ?? []).map((v) => (
                          <label key={v.value} className="facet">
                            <input type="checkbox" checked={filters[f] === v.value} onChange={() => toggle(f, v.value)} />
                            <span>{v.value}</span>
                            <span className="count">{v.count}</span>
                          </label>
                        ))}
                        {filters[f] && !(res.facets[f] ?? []).some((v) => v.value === filters[f]) && (
                          <label className="facet">
                            <input type="checkbox" checked onChange={() => toggle(f, filters[f]!)} />
                            <span>{filters[f]}</span>
                            <span className="count">0</span>
                          </label>
                        )}
                      </fieldset>
                    ),
                  )}
                </aside>
                <section aria-live="polite">
                  <p className="muted" data-testid="search-total">
                    {res.total} result{res.total === 1 ? '' : 's'} for “{q}”
                  </p>
                  {items.length === 0 ? (
                    <Empty>Nothing matches. Try fewer words or remove a filter.</Empty>
                  ) : (
                    <ol className="results">
                      {items.map((it) => (
                        <Result key={`${it.kind}:${it.namespace}:${it.dataset}:${it.name}`} item={it} />
                      ))}
                    </ol>
                  )}
                  {cursor && (
                    <button type="button" onClick={() => void loadMore(cursor)}>
                      More results
                    </button>
                  )}
                </section>
              </div>
            );
          }}
        </Load>
      )}
    </div>
  );
}
