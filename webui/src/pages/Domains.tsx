// Domains, each with its datasets on demand.
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../api';
import { Empty, Load, Tags } from '../components/states';
import { datasetUrl } from '../format';
import { useAsync } from '../hooks';

function DomainDatasets({ domain }: { domain: string }) {
  const datasets = useAsync(() => api.datasets({ domain, limit: 100 }), [domain]);
  return (
    <Load state={datasets}>
      {(page) =>
        page.items.length === 0 ? (
          <Empty>No datasets in this domain.</Empty>
        ) : (
          <ul className="rows">
            {page.items.map((d) => (
              <li key={d.id}>
                <Link to={datasetUrl(d.namespace, d.name)}>{d.name}</Link> <span className="muted small">{d.description}</span> <Tags tags={d.tags} />
              </li>
            ))}
          </ul>
        )
      }
    </Load>
  );
}

export function DomainsPage() {
  const domains = useAsync(() => api.domains(), []);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div className="page">
      <h1>Domains</h1>
      <Load state={domains}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No domains yet: a dataset's domain is created when first used.</Empty>
          ) : (
            <ul className="cards">
              {page.items.map((d) => (
                <li key={d.name} className="card">
                  <button type="button" className="link" aria-expanded={open === d.name} onClick={() => setOpen(open === d.name ? null : d.name)}>
                    <strong>{d.name}</strong> · {d.datasets} dataset{d.datasets === 1 ? '' : 's'}
                  </button>
                  {d.description && <p className="small muted">{d.description}</p>}
                  {open === d.name && <DomainDatasets domain={d.name} />}
                </li>
              ))}
            </ul>
          )
        }
      </Load>
    </div>
  );
}
