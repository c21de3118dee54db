import type { ReactNode } from 'react';

/** A table that scrolls sideways on narrow screens; `head` is the header row's cells. */
export function Table({ head, children, className }: { head?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <div className="table-wrap">
      <table className={className}>
        {head && (
          <thead>
            <tr>{head}</tr>
          </thead>
        )}
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
