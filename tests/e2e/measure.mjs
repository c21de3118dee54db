#!/usr/bin/env node
// Measures the dashboard's speed targets against a running stack (the env of
// `scripts/stack.sh up`: MF_API_URL, MF_DEMO_API_KEY) in Debian's headless
// Chromium, and prints one JSON object:
//   - entry bundle: the gzipped size of what index.html loads (target <= 250 KB),
//     and the largest lazily loaded chunk;
//   - dataset page: first meaningful paint (the dataset's content on screen,
//     a performance mark the page sets) and first contentful paint, median of
//     RUNS cold loads (fresh browser context each; target < 1 s);
//   - lineage layout on a 500-node graph (a DAG seeded in namespace "bench500"
//     through the REST API): the layered layout alone, and layout plus building
//     the Cytoscape.js graph, median of RUNS (target < 1 s).
//
// Usage: node tests/e2e/measure.mjs   (make webui first; RUNS=5 by default)
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const DIST = path.join(ROOT, 'webui/dist');
const API = process.env.MF_API_URL;
const KEY = process.env.MF_DEMO_API_KEY;
const RUNS = Number(process.env.RUNS ?? 5);
const NODES = 500;
const NS = 'bench500';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

if (!API || !KEY) {
  process.stderr.write('measure: load a stack env first (MF_API_URL, MF_DEMO_API_KEY)\n');
  process.exit(2);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => Math.round(n / 102.4) / 10;

function bundleSizes() {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const entry = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(DIST, f)), { level: 9 }).length;
  const all = fs.readdirSync(path.join(DIST, 'assets')).map((f) => `assets/${f}`);
  const lazy = all.filter((f) => !entry.includes(f) && f.endsWith('.js')).map((f) => ({ file: f, gzip_kb: kb(gz(f)) }));
  return {
    entry_files: entry,
    entry_gzip_kb: kb(entry.reduce((s, f) => s + gz(f), 0)),
    lazy_chunks: lazy.sort((a, b) => b.gzip_kb - a.gzip_kb),
  };
}

async function post(p, body) {
  const r = await fetch(API + p, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 200 && r.status !== 201) throw new Error(`POST ${p}: ${r.status} ${await r.text()}`);
}

// A DAG of NODES datasets: a 3-ary tree from n0, plus a side edge from every 7th node.
async function seedGraph() {
  const edges = [];
  for (let i = 1; i < NODES; i++) {
    edges.push([Math.floor((i - 1) / 3), i]);
    if (i % 7 === 0) edges.push([i - 1, i]);
  }
  const ref = (i) => ({ namespace: NS, name: `n${i}` });
  // One at a time: concurrent writes to the same dataset answer 409 (retry).
  for (const [a, b] of edges) await post('/api/v1/lineage/edges', { source: ref(a), target: ref(b) });
}

async function newPage(browser) {
  const context = await browser.newContext({ baseURL: API, viewport: { width: 1280, height: 860 } });
  await context.addInitScript((key) => sessionStorage.setItem('mf.api_key', key), KEY);
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  return { context, page };
}

async function datasetPaint(browser) {
  const fmp = [];
  const fcp = [];
  for (let i = 0; i < RUNS; i++) {
    const { context, page } = await newPage(browser);
    await page.goto('/datasets/default/orders_daily');
    await page.getByRole('heading', { name: 'orders_daily' }).waitFor();
    const t = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve({
      ready: performance.getEntriesByName('mf-dataset-ready')[0]?.startTime,
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
    }))));
    fmp.push(t.ready);
    fcp.push(t.fcp);
    await context.close();
  }
  return { first_meaningful_paint_ms: Math.round(median(fmp)), first_contentful_paint_ms: Math.round(median(fcp)), runs_ms: fmp.map(Math.round) };
}

async function lineageLayout(browser) {
  const layout = [];
  const graph = [];
  for (let i = 0; i < RUNS; i++) {
    const { context, page } = await newPage(browser);
    await page.goto(`/lineage?node=${encodeURIComponent(`dataset:${NS}:n0`)}&depth=10&direction=down`);
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=lineage-graph]')?.dataset.rendered) === n, NODES);
    layout.push(Number(await page.getByTestId('graph-status').getAttribute('data-layout-ms')));
    graph.push(Number(await page.getByTestId('lineage-graph').getAttribute('data-graph-ms')));
    await context.close();
  }
  return {
    nodes: NODES,
    layout_ms: Math.round(median(layout) * 10) / 10,
    layout_and_graph_ms: Math.round(median(graph)),
    runs_layout_ms: layout,
    runs_layout_and_graph_ms: graph.map(Math.round),
  };
}

const out = { bundle: bundleSizes() };
await seedGraph();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });
try {
  out.dataset_page = await datasetPaint(browser);
  out.lineage_500 = await lineageLayout(browser);
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
