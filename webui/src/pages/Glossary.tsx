// The glossary: terms with their status, definition and linked datasets.
import { Link, useSearchParams } from 'react-router-dom';
import { api } from '../api';
import { Empty, Load } from '../components/states';
import { datasetUrl } from '../format';
import { useAsync } from '../hooks';

export function GlossaryPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get('status') ?? '';
  const focus = params.get('term');
  const terms = useAsync(() => api.terms({ status, limit: 200 }), [status]);
  return (
    <div className="page">
      <header className="page-head">
        <h1>Glossary</h1>
        <label>
          Status{' '}
          <select value={status} onChange={(e) => setParams(e.target.value ? { status: e.target.value } : {})}>
            <option value="">all</option>
            <option value="approved">approved</option>
            <option value="draft">draft</option>
            <option value="deprecated">deprecated</option>
          </select>
        </label>
      </header>
      <Load state={terms}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No glossary terms yet.</Empty>
          ) : (
            <dl className="glossary">
              {page.items.map((t) => (
                <div key={t.id} className={t.name === focus ? 'card focus' : 'card'}>
                  <dt>
                    {t.name} <span className={`badge status-${t.status}`}>{t.status}</span>
                  </dt>
                  <dd>
                    <p>{t.definition || <span className="muted">No definition.</span>}</p>
                    {t.links.length > 0 && (
                      <p className="small">
                        Used by:{' '}
                        {t.links.map((l) => (
                          <Link key={`${l.namespace}/${l.dataset}/${l.field}`} className="ref" to={datasetUrl(l.namespace, l.dataset)}>
                            {l.dataset}
                            {l.field ? `.${l.field}` : ''}
                          </Link>
                        ))}
                      </p>
                    )}
                  </dd>
                </div>
              ))}
            </dl>
          )
        }
      </Load>
    </div>
  );
}
