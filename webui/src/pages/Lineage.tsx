// The lineage graph (Cytoscape.js, our layered DAG layout): upstream and downstream
// datasets and jobs, expand and collapse, depth and direction, a column-level
// mode that follows one field, impact highlighting. Loaded lazily.
import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { api, nodeId, parseNodeId, type GraphEdge, type GraphNode, type LineageGraph } from '../api';
import { Empty, ErrorNote, Loading } from '../components/states';
import { layeredLayout } from '../dagLayout';
import { datasetUrl } from '../format';
import { useAsync } from '../hooks';

// Cytoscape adds a <style> element (refused by the 'self'-only CSP) unless an
// element with this id exists; styles.css holds its one rule instead.
const CYTOSCAPE_STYLESHEET_ID = '__________cytoscape_stylesheet';
if (!document.getElementById(CYTOSCAPE_STYLESHEET_ID)) {
  const marker = document.createElement('meta');
  marker.id = CYTOSCAPE_STYLESHEET_ID;
  document.head.append(marker);
}

type Direction = 'up' | 'down' | 'both';

export function nodeLabel(n: GraphNode): string {
  const { kind, parts } = parseNodeId(n.id);
  if (kind === 'datasetField') return `${parts[1]}.${parts[2]}`;
  return parts[1] ?? n.id;
}

const NODE_HEIGHT = 26;
// Widths from the label's length: measuring 500 labels in the canvas costs more than the layout.
const nodeWidth = (label: string) => Math.min(260, 20 + label.length * 6.6);

/** Cytoscape elements, nodes at the positions of the layered layout. */
function toElements(nodes: GraphNode[], edges: GraphEdge[], root: string): ElementDefinition[] {
  const sized = nodes.map((n) => ({ n, label: nodeLabel(n) }));
  const positions = layeredLayout(
    sized.map(({ n, label }) => ({ id: n.id, width: n.type === 'job' ? 40 : nodeWidth(label), height: NODE_HEIGHT })),
    edges,
  );
  return [
    ...sized.map(({ n, label }) => ({
      group: 'nodes' as const,
      data: { id: n.id, label, kind: n.type, w: nodeWidth(label), placeholder: n.data?.placeholder === true },
      position: positions.get(n.id),
      classes: [n.type, n.id === root ? 'root' : '', n.data?.placeholder ? 'placeholder' : ''].join(' ').trim(),
    })),
    ...edges.map((e) => ({
      group: 'edges' as const,
      data: { id: `${e.from}->${e.to}`, source: e.from, target: e.to, kind: e.type },
    })),
  ];
}

const STYLE: cytoscape.StylesheetStyle[] = [
  {
    selector: 'node',
    style: {
      label: 'data(label)',
      'font-size': 11,
      'text-valign': 'center',
      'text-halign': 'center',
      width: 'data(w)',
      height: NODE_HEIGHT,
      shape: 'round-rectangle',
      'background-color': '#e7eefc',
      'border-width': 1,
      'border-color': '#7d9bd8',
      color: '#14213d',
      // Labels too small to read are not drawn: zoomed-out large graphs stay fluid.
      'min-zoomed-font-size': 7,
    },
  },
  { selector: 'node.job', style: { shape: 'diamond', 'background-color': '#fff4d6', 'border-color': '#c9a227', width: 34, height: 34, 'text-valign': 'bottom', 'text-margin-y': 4 } },
  { selector: 'node.datasetField', style: { 'background-color': '#e9f7ef', 'border-color': '#4caf7a' } },
  { selector: 'node.placeholder', style: { 'border-style': 'dashed', 'background-color': '#f4f4f4' } },
  { selector: 'node.root', style: { 'border-width': 3, 'border-color': '#2457c5', 'font-weight': 'bold' } },
  { selector: 'node:selected', style: { 'background-color': '#2457c5', color: '#fff' } },
  { selector: 'node.impact', style: { 'background-color': '#fde2e1', 'border-color': '#d64545', 'border-width': 2 } },
  { selector: '.faded', style: { opacity: 0.25 } },
  {
    selector: 'edge',
    style: {
      width: 1.5,
      'curve-style': 'bezier',
      'target-arrow-shape': 'triangle',
      'line-color': '#9aa9c7',
      'target-arrow-color': '#9aa9c7',
    },
  },
  { selector: 'edge.impact', style: { 'line-color': '#d64545', 'target-arrow-color': '#d64545', width: 2.5 } },
];

/** Ids reachable downstream of `start` over `edges` (start excluded). */
export function downstreamOf(start: string, edges: { from: string; to: string }[]): Set<string> {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length) {
    for (const next of out.get(queue.shift()!) ?? []) {
      if (next !== start && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

interface GraphState {
  nodes: Map<string, GraphNode>;
  edges: Map<string, GraphEdge>;
  added: Map<string, string[]>; // expanded node -> the nodes its expansion brought in
}

function fromGraph(g: LineageGraph): GraphState {
  return {
    nodes: new Map(g.nodes.map((n) => [n.id, n])),
    edges: new Map(g.edges.map((e) => [`${e.from}->${e.to}`, e])),
    added: new Map(),
  };
}

export default function LineagePage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const root = params.get('node') ?? '';
  const depth = Number(params.get('depth') ?? 3);
  const direction = (params.get('direction') ?? 'both') as Direction;
  const { kind, parts } = parseNodeId(root);
  const datasetParts = kind === 'dataset' || kind === 'datasetField' ? parts.slice(0, 2) : null;

  const loaded = useAsync(() => (root ? api.graph(root, depth, direction) : Promise.resolve(null)), [root, depth, direction]);
  const fields = useAsync(
    () => (datasetParts ? api.dataset({ namespace: datasetParts[0], name: datasetParts[1] }).then((d) => d.fields.map((f) => f.name)) : Promise.resolve([])),
    [datasetParts?.[0], datasetParts?.[1]],
  );
  const [graph, setGraph] = useState<GraphState | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [impact, setImpact] = useState(false);
  const [layoutMs, setLayoutMs] = useState<number | null>(null);
  const [expandError, setExpandError] = useState<Error | null>(null);
  const container = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);

  useEffect(() => {
    setGraph(loaded.data ? fromGraph(loaded.data) : null);
    setSelected(null);
    setImpact(false);
  }, [loaded.data]);

  const edgesList = useMemo(() => (graph ? [...graph.edges.values()] : []), [graph]);

  // (Re)build and lay out the graph when its content changes.
  useEffect(() => {
    if (!container.current || !graph) return;
    const large = graph.nodes.size > 200;
    const t0 = performance.now();
    const elements = toElements([...graph.nodes.values()], edgesList, root);
    const t1 = performance.now();
    const instance = cytoscape({
      container: container.current,
      elements,
      style: STYLE,
      layout: { name: 'preset' },
      minZoom: 0.05,
      maxZoom: 3,
      textureOnViewport: large,
      hideEdgesOnViewport: large,
      pixelRatio: large ? 1 : 'auto',
      selectionType: 'single',
    });
    instance.fit(undefined, 20);
    const t2 = performance.now();
    // For tests/e2e/measure.mjs: the layout alone, and layout plus building the graph.
    performance.measure('mf-lineage-layout', { start: t0, end: t1 });
    performance.measure('mf-lineage-graph', { start: t0, end: t2 });
    setLayoutMs(t1 - t0);
    container.current.dataset.rendered = String(instance.nodes().length);
    container.current.dataset.graphMs = (t2 - t0).toFixed(1);
    instance.on('tap', 'node', (e) => setSelected(e.target.id()));
    instance.on('tap', (e) => e.target === instance && setSelected(null));
    instance.on('dbltap', 'node', (e) => void toggleExpand(e.target.id()));
    cy.current = instance;
    return () => {
      instance.destroy();
      cy.current = null;
    };
  }, [graph]);

  // Impact highlighting: the selected node's downstream in red, the rest faded.
  useEffect(() => {
    const c = cy.current;
    if (!c) return;
    c.elements().removeClass('impact faded');
    if (c.$id(selected ?? '').nonempty()) c.$id(selected!).select();
    if (!impact || !selected) return;
    const hit = downstreamOf(selected, edgesList);
    c.elements().addClass('faded');
    c.$id(selected).removeClass('faded');
    for (const id of hit) c.$id(id).removeClass('faded').addClass('impact');
    c.edges().forEach((e) => {
      if ((hit.has(e.target().id()) && (hit.has(e.source().id()) || e.source().id() === selected))) e.removeClass('faded').addClass('impact');
    });
  }, [impact, selected, edgesList, graph]);

  const toggleExpand = useCallback(
    async (id: string) => {
      setExpandError(null);
      if (!graph) return;
      if (graph.added.has(id)) {
        // Collapse: drop what this expansion brought in (and their edges).
        const gone = new Set(graph.added.get(id));
        const nodes = new Map([...graph.nodes].filter(([k]) => !gone.has(k)));
        const edges = new Map([...graph.edges].filter(([, e]) => nodes.has(e.from) && nodes.has(e.to)));
        const added = new Map(graph.added);
        added.delete(id);
        setGraph({ nodes, edges, added });
        return;
      }
      try {
        const more = await api.graph(id, 1, 'both');
        const nodes = new Map(graph.nodes);
        const fresh: string[] = [];
        for (const n of more.nodes) if (!nodes.has(n.id)) (nodes.set(n.id, n), fresh.push(n.id));
        const edges = new Map(graph.edges);
        for (const e of more.edges) edges.set(`${e.from}->${e.to}`, e);
        setGraph({ nodes, edges, added: new Map(graph.added).set(id, fresh) });
      } catch (err) {
        setExpandError(err as Error);
      }
    },
    [graph],
  );

  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    next.set(key, value);
    setParams(next);
  };

  const selectedNode = selected ? graph?.nodes.get(selected) : undefined;
  const openDataset = (id: string) => {
    const p = parseNodeId(id);
    if (p.kind === 'dataset' || p.kind === 'datasetField') navigate(datasetUrl(p.parts[0], p.parts[1]));
  };

  if (!root) return <Empty>Open the lineage of a dataset from its page.</Empty>;
  return (
    <div className="page lineage">
      <header className="page-head">
        <h1>Lineage</h1>
        <span className="muted mono">{kind === 'datasetField' ? `${parts[1]}.${parts[2]}` : parts[1]}</span>
      </header>
      <div className="toolbar" role="group" aria-label="Graph controls">
        <label>
          Depth
          <input type="range" min={1} max={10} value={depth} onChange={(e) => set('depth', e.target.value)} aria-valuetext={`${depth}`} />
          <output>{depth}</output>
        </label>
        <label>
          Direction
          <select value={direction} onChange={(e) => set('direction', e.target.value)}>
            <option value="both">up and down</option>
            <option value="up">upstream</option>
            <option value="down">downstream</option>
          </select>
        </label>
        {datasetParts && (
          <label>
            Follow field
            <select
              value={kind === 'datasetField' ? parts[2] : ''}
              onChange={(e) =>
                set('node', e.target.value ? nodeId('datasetField', datasetParts[0], datasetParts[1], e.target.value) : nodeId('dataset', datasetParts[0], datasetParts[1]))
              }
            >
              <option value="">(whole dataset)</option>
              {(fields.data ?? []).map((f) => <option key={f} value={f}>{f}</option>)}
            </select>
          </label>
        )}
        <label>
          Node
          <select value={selected ?? ''} onChange={(e) => setSelected(e.target.value || null)} aria-label="Select a node">
            <option value="">(none)</option>
            {graph && [...graph.nodes.values()].map((n) => <option key={n.id} value={n.id}>{nodeLabel(n)} ({n.type})</option>)}
          </select>
        </label>
        <button type="button" disabled={!selected} onClick={() => selected && void toggleExpand(selected)}>
          {selected && graph?.added.has(selected) ? 'Collapse' : 'Expand'}
        </button>
        <button type="button" disabled={!selected} aria-pressed={impact} onClick={() => setImpact(!impact)}>
          {impact ? 'Hide impact' : 'Highlight impact'}
        </button>
        <button type="button" disabled={!selectedNode || selectedNode.type === 'job'} onClick={() => selected && openDataset(selected)}>
          Open dataset
        </button>
        <button type="button" onClick={() => cy.current?.fit(undefined, 20)}>Fit</button>
      </div>
      {expandError && <ErrorNote error={expandError} />}
      {loaded.error && <ErrorNote error={loaded.error} onRetry={loaded.reload} />}
      {loaded.loading && !graph && <Loading label="Loading the graph…" />}
      {graph && (
        <p className="muted small" role="status" data-testid="graph-status" data-nodes={graph.nodes.size} data-layout-ms={layoutMs?.toFixed(1)}>
          {graph.nodes.size} nodes, {graph.edges.size} edges{loaded.data?.truncated ? ' (truncated: the nearest nodes)' : ''}
          {layoutMs !== null && ` · laid out in ${Math.round(layoutMs)} ms`} · double-click a node to expand or collapse it
        </p>
      )}
      <div ref={container} className="graph" data-testid="lineage-graph" aria-label="Lineage graph" />
      {selectedNode && (
        <aside className="card node-info" aria-label="Selected node">
          <strong>{nodeLabel(selectedNode)}</strong> <span className="muted">{selectedNode.type}, distance {selectedNode.distance}</span>
          {typeof selectedNode.data?.description === 'string' && <p className="small">{selectedNode.data.description}</p>}
          {impact && <p className="small">{downstreamOf(selectedNode.id, edgesList).size} nodes downstream in this graph.</p>}
        </aside>
      )}
    </div>
  );
}
