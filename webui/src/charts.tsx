// Small SVG charts of our own (a chart library would outweigh them):
// horizontal bars with labels and counts, and a daily series as columns.
// Loaded lazily with the pages that draw them.

export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ bars, title }: { bars: Bar[]; title: string }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const row = 26;
  const width = 320;
  const labelW = 110;
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${bars.length * row}`} role="img" aria-label={title} width="100%">
        {bars.map((b, i) => {
          const w = ((width - labelW - 40) * b.value) / max;
          return (
            <g key={b.label} transform={`translate(0 ${i * row})`}>
              <text x={labelW - 6} y={row / 2 + 4} textAnchor="end" className="chart-label">
                {b.label.length > 16 ? `${b.label.slice(0, 15)}…` : b.label}
              </text>
              <rect x={labelW} y={5} width={Math.max(w, 1)} height={row - 10} rx={3} className="chart-bar" />
              <text x={labelW + w + 6} y={row / 2 + 4} className="chart-value">
                {b.value}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export interface Point {
  day: string; // YYYY-MM-DD
  value: number;
}

/** One value per day as columns, with the first and last day and the highest value marked. */
export function DailyChart({ points, title, format = String }: { points: Point[]; title: string; format?: (v: number) => string }) {
  const width = 480;
  const height = 140;
  const pad = { left: 36, bottom: 20, top: 8 };
  const max = Math.max(...points.map((p) => p.value), 0);
  const step = (width - pad.left) / Math.max(points.length, 1);
  const plotH = height - pad.bottom - pad.top;
  const total = points.reduce((s, p) => s + p.value, 0);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: ${points.length} days, highest ${format(max)}`} width="100%">
        <line x1={pad.left} x2={width} y1={height - pad.bottom} y2={height - pad.bottom} className="chart-axis" />
        <text x={pad.left - 4} y={pad.top + 8} textAnchor="end" className="chart-value">{format(max)}</text>
        <text x={pad.left - 4} y={height - pad.bottom} textAnchor="end" className="chart-value">0</text>
        {points.map((p, i) => {
          const h = max > 0 ? (plotH * p.value) / max : 0;
          return (
            <rect key={p.day} x={pad.left + i * step + 1} y={height - pad.bottom - h} width={Math.max(step - 2, 1)} height={h} className="chart-bar">
              <title>{`${p.day}: ${format(p.value)}`}</title>
            </rect>
          );
        })}
        {points.length > 0 && (
          <>
            <text x={pad.left} y={height - 4} className="chart-label">{points[0].day.slice(5)}</text>
            <text x={width} y={height - 4} textAnchor="end" className="chart-label">{points[points.length - 1].day.slice(5)}</text>
          </>
        )}
      </svg>
      {total === 0 && <p className="muted small">Nothing recorded in this period.</p>}
    </figure>
  );
}

export default BarChart;
