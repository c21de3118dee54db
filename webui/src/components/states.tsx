import type { ReactNode } from 'react';
import type { Async } from '../hooks';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorNote({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <strong>Something went wrong.</strong> {error.message}
      {onRetry && (
        <button type="button" className="link" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

/** The loading, error or loaded view of an Async. */
export function Load<T>({ state, children }: { state: Async<T>; children: (data: T) => ReactNode }) {
  if (state.error) return <ErrorNote error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading />;
  return <>{children(state.data)}</>;
}

export function Forbidden({ role }: { role: string }) {
  return (
    <div className="state error" role="alert">
      <strong>Not available.</strong> This page needs the {role} role.
    </div>
  );
}

export function Tags({ tags }: { tags: string[] | undefined | null }) {
  if (!tags || tags.length === 0) return null;
  return (
    <span className="tags">
      {tags.map((t) => (
        <span key={t} className="tag">
          {t}
        </span>
      ))}
    </span>
  );
}
