// The search box with autocomplete (GET /api/v1/search/suggest): arrow keys
// move through the suggestions, Enter opens one or searches the text.
import { useId, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { api, type Suggestion } from '../api';
import { datasetUrl } from '../format';
import { useAsync, useDebounced } from '../hooks';

function target(s: Suggestion): string {
  if (s.kind === 'dataset') return datasetUrl(s.namespace ?? 'default', s.name);
  if (s.kind === 'field') return datasetUrl(s.namespace ?? 'default', s.dataset ?? '', 'schema');
  return `/glossary?term=${encodeURIComponent(s.name)}`;
}

export function SearchBox({ initial = '', autoFocus = false }: { initial?: string; autoFocus?: boolean }) {
  const navigate = useNavigate();
  const listId = useId();
  const [text, setText] = useState(initial);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const q = useDebounced(text.trim(), 120);
  const suggestions = useAsync(() => (q ? api.suggest(q).then((r) => r.items) : Promise.resolve([])), [q]);
  const items = open && q ? (suggestions.data ?? []) : [];

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setOpen(false);
    if (active >= 0 && items[active]) navigate(target(items[active]));
    else if (text.trim()) navigate(`/search?q=${encodeURIComponent(text.trim())}`);
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, items.length - 1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, -1));
    } else if (e.key === 'Escape') {
      setOpen(false);
      setActive(-1);
    }
  };

  return (
    <form className="searchbox" role="search" onSubmit={submit}>
      <input
        type="search"
        aria-label="Search the catalog"
        placeholder="Search datasets, fields, terms…"
        value={text}
        autoFocus={autoFocus}
        role="combobox"
        aria-expanded={items.length > 0}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={active >= 0 ? `${listId}-${active}` : undefined}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onKeyDown={onKey}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
      />
      <button type="submit">Search</button>
      {items.length > 0 && (
        <ul className="suggestions" id={listId} role="listbox">
          {items.map((s, i) => (
            <li
              key={`${s.kind}:${s.namespace}:${s.dataset}:${s.name}`}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                setOpen(false);
                navigate(target(s));
              }}
            >
              <span className={`kind kind-${s.kind}`}>{s.kind}</span>
              {s.kind === 'field' ? `${s.dataset}.${s.name}` : s.name}
              {s.namespace && s.namespace !== 'default' && <span className="muted"> · {s.namespace}</span>}
            </li>
          ))}
        </ul>
      )}
    </form>
  );
}
