// The typed client of the public REST API (docs/api.md): every request the
// dashboard makes goes through request() here. Two credentials: the session
// cookie of a single sign-on (mutations carry its CSRF token) or an API key
// kept in sessionStorage and sent as a Bearer token.

const KEY_STORAGE = 'mf.api_key';

export type Role = 'viewer' | 'editor' | 'admin';
export type PlatformRole = 'platform_admin' | 'billing_admin';

export interface ListPage<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Tenant {
  id: string;
  name: string;
  plan: string;
  status: 'active' | 'suspended' | 'deleting';
  created_at?: string;
  purge_after?: string | null;
  quotas?: Record<string, number | null>;
}

export interface Me {
  kind: 'user' | 'key';
  role: Role;
  permissions: string[];
  actor: string;
  tenant: Tenant;
  user: { id: string; email: string; name: string | null } | null;
  scope: unknown;
  csrf_token?: string;
}

export interface DatasetRef {
  namespace: string;
  name: string;
}

export interface Field {
  name: string;
  type: string;
  nullable: boolean;
  description: string;
  tags: string[];
  ordinal?: number;
}

export interface Dataset extends DatasetRef {
  id: string;
  path: string | null;
  format: string | null;
  description: string | null;
  domain: string | null;
  owner: string | null;
  tags: string[];
  fields: Field[];
  upstream: DatasetRef[];
  downstream: DatasetRef[];
  operational: { row_count?: number; size_bytes?: number; partition_keys?: string[] } | null;
  placeholder: boolean;
  version: number;
  schema_version: number;
  created_at: string;
  updated_at: string;
}

export interface DatasetSummary extends DatasetRef {
  id: string;
  description: string | null;
  domain: string | null;
  owner: string | null;
  format: string | null;
  tags: string[];
  field_count: number;
  placeholder: boolean;
  updated_at: string;
}

export interface SchemaVersion {
  version: number;
  created_at: string;
  field_count: number;
  breaking: boolean;
}

export interface SchemaChange {
  name: string;
  from: { type: string; nullable: boolean };
  to: { type: string; nullable: boolean };
}

export interface SchemaDiff {
  from: number;
  to: number;
  added: Field[];
  removed: Field[];
  changed: SchemaChange[];
  breaking: boolean;
}

export interface Facet {
  value: string;
  count: number;
}

export interface SearchItem {
  kind: 'dataset' | 'field' | 'term';
  name: string;
  namespace?: string;
  dataset?: string;
  domain?: string;
  owner?: string;
  format?: string;
  tags?: string[];
  description: string | null;
  match: string;
  score: number;
  snippet: string;
}

export interface SearchResult extends ListPage<SearchItem> {
  facets: Record<string, Facet[]>;
  total: number;
}

export interface Suggestion {
  kind: 'dataset' | 'field' | 'term';
  name: string;
  namespace?: string;
  dataset?: string;
}

export interface GraphNode {
  id: string;
  type: 'dataset' | 'job' | 'datasetField';
  distance: number;
  data: Record<string, unknown>;
}

export interface GraphEdge {
  from: string;
  to: string;
  type: string;
  job?: string | null;
  transformation?: string | null;
}

export interface LineageGraph {
  node: string;
  depth: number;
  direction: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  truncated: boolean;
}

export interface ImpactItem {
  id: string;
  type: string;
  namespace: string;
  name: string;
  field?: string;
  owner: string | null;
  distance: number;
}

export interface Impact {
  node: string;
  items: ImpactItem[];
  total: number;
  truncated: boolean;
}

export interface Stats {
  datasets: number;
  fields: number;
  lineage_edges: number;
  column_lineage_edges: number;
  tags: number;
  domains: number;
  owners: number;
  glossary_terms: number;
  placeholders?: number;
  top_formats: { format: string; datasets: number }[];
  top_domains: { domain: string; datasets: number }[];
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  type: 'personal' | 'service';
  prefix: string;
  key?: string;
  created_at: string;
  created_by: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface Member {
  user: { id: string; email: string; name: string | null };
  role: Role;
  created_at: string;
  last_login_at: string | null;
  grants: { id: string; role: Role; domain?: string; dataset?: DatasetRef }[];
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  status: 'pending' | 'accepted' | 'expired';
  created_at: string;
  expires_at: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  request_id: string | null;
  client_addr: string | null;
  before: unknown;
  after: unknown;
}

export interface SsoSettings {
  issuer: string | null;
  client_id: string | null;
  client_secret_set?: boolean;
  allowed_domains: string[];
  default_role: Role;
}

export interface Domain {
  name: string;
  description: string | null;
  datasets: number;
  created_at: string;
}

export interface GlossaryTerm {
  id: string;
  name: string;
  definition: string | null;
  status: 'draft' | 'approved' | 'deprecated';
  links: { namespace: string; dataset: string; field: string | null }[];
  updated_at: string;
}

export interface Job {
  namespace: string;
  name: string;
  [key: string]: unknown;
}

export interface Run {
  id?: string;
  run_id?: string;
  state: string;
  started_at?: string | null;
  ended_at?: string | null;
  [key: string]: unknown;
}

export type UsagePeriod = '1d' | '7d' | '30d';

export interface UsageDay {
  day: string;
  reads: number;
  unique_users: number;
  lineage_queries: number;
  search_appearances: number;
}

export interface DatasetUsage {
  name: string;
  from: string;
  to: string;
  reads?: number;
  unique_users?: number;
  daily: UsageDay[];
}

export interface PopularDataset extends DatasetRef {
  reads: number;
  unique_users?: number;
  [key: string]: unknown;
}

export interface UnusedDataset extends DatasetRef {
  last_read_day?: string | null;
  [key: string]: unknown;
}

export interface FreshnessPolicy {
  dataset: DatasetRef;
  status: string;
  evaluated_status?: string;
  expected_interval_secs: number | null;
  grace_period_secs: number;
  cron_schedule: string | null;
  timezone: string;
  last_update_at: string | null;
  due_at: string | null;
  stale_at: string | null;
  evaluated_at: string | null;
}

export interface HealthFigures {
  datasets: number;
  stale: number;
  unused: number;
  without_owner: number;
  without_description: number;
  failing_quality: number;
  breaking_changes_7d: number;
  documentation_coverage: number;
  field_documentation_coverage: number;
}

export interface Health {
  as_of: string;
  summary: HealthFigures;
  trend: (HealthFigures & { day: string })[];
  by_owner: (HealthFigures & { owner: string | null })[];
}

export const WEBHOOK_EVENTS = [
  'dataset.stale',
  'dataset.fresh_again',
  'schema.breaking_change',
  'schema.changed',
  'quality.failed',
  'quota.warning',
] as const;

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  format: 'json' | 'slack';
  description: string | null;
  created_at: string;
  created_by: string;
}

export interface WebhookDelivery {
  id: string;
  event: string;
  event_id: number;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface InvoiceLine {
  description: string;
  quantity: number;
  unit_price: number;
  amount: number;
}

export interface Invoice {
  tenant: string;
  tenant_name: string;
  plan: string;
  month: string;
  currency: string;
  total: number;
  lines: InvoiceLine[];
}

export interface Billing {
  plan: string;
  month: string;
  usage: Record<string, { used: number; limit: number | null }>;
  limits: Record<string, number>;
  invoice: Invoice;
}

export interface Plan {
  name: string;
  currency: string;
  limits: Record<string, number>;
  prices: Record<string, number>;
  included: Record<string, number>;
  updated_at: string;
}

export interface QualityAssertion {
  assertion: string;
  success: boolean;
  column?: string;
  [key: string]: unknown;
}

/** One class of a field (GET /datasets/{name}/classification): where it came from and whether a person decided. */
export interface FieldClass {
  class: string;
  sensitivity: string;
  source: 'rule' | 'value' | 'inherited' | 'person';
  status: 'suggested' | 'verified' | 'rejected';
  may_be_anonymised: boolean;
}

export interface DatasetClassification {
  sensitivity: string | null;
  fields: { name: string; sensitivity: string | null; classes: FieldClass[] }[];
}

/** GET /datasets/{name}/quality/summary: the score (0-100, null without results) from the latest result of each check. */
export interface QualitySummary {
  score: number | null;
  checks: number;
  failing: number;
  last_result_at: string | null;
}

export interface QualityResult {
  at: string;
  metrics: Record<string, unknown> | null;
  assertions: QualityAssertion[] | null;
  run: { run_id: string; state: string; event_time: string; job: { namespace: string; name: string } | string } | null;
}

/** An answer other than 2xx: the error envelope's code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

let csrfToken: string | undefined;

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

export function withQuery(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** One request: JSON in and out; throws ApiError with the envelope's code and message. */
export async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  else if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(withQuery(path, query), {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let doc: unknown = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, 'bad_response', `the server answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const err = (doc as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, err?.code ?? 'error', err?.message ?? `the server answered ${res.status}`);
  }
  return doc as T;
}

/** A non-JSON document (e.g. CSV) as a Blob, with the same credentials as request(). */
export async function download(path: string): Promise<Blob> {
  const key = apiKey();
  const res = await fetch(path, { headers: key ? { Authorization: `Bearer ${key}` } : {}, credentials: 'same-origin' });
  if (!res.ok) throw new ApiError(res.status, 'download_failed', `the server answered ${res.status}`);
  return res.blob();
}

const enc = encodeURIComponent;
const dsPath = (ref: DatasetRef) => `/api/v1/datasets/${enc(ref.name)}`;
const ns = (ref: DatasetRef) => ({ namespace: ref.namespace });

/** The id of a lineage node: parts joined by ':', a ':' or '%' inside a part percent-encoded. */
export function nodeId(kind: 'dataset' | 'job' | 'datasetField', ...parts: string[]): string {
  return [kind, ...parts.map((p) => p.replace(/%/g, '%25').replace(/:/g, '%3A'))].join(':');
}

/** The parts of a node id, decoded (inverse of nodeId). */
export function parseNodeId(id: string): { kind: string; parts: string[] } {
  const [kind, ...parts] = id.split(':');
  return { kind, parts: parts.map((p) => p.replace(/%3A/gi, ':').replace(/%25/g, '%')) };
}

export const api = {
  me: () => request<Me>('GET', '/api/v1/me'),
  logout: () => request<void>('POST', '/auth/logout'),
  stats: () => request<Stats>('GET', '/api/v1/stats'),

  datasets: (query?: Query) => request<ListPage<DatasetSummary>>('GET', '/api/v1/datasets', undefined, query),
  dataset: (ref: DatasetRef) => request<Dataset>('GET', dsPath(ref), undefined, ns(ref)),
  versions: (ref: DatasetRef) =>
    request<ListPage<SchemaVersion>>('GET', `${dsPath(ref)}/versions`, undefined, { ...ns(ref), limit: 100 }),
  version: (ref: DatasetRef, v: number) =>
    request<SchemaVersion & { fields: Field[] }>('GET', `${dsPath(ref)}/versions/${v}`, undefined, ns(ref)),
  schemaDiff: (ref: DatasetRef, from: number, to: number) =>
    request<SchemaDiff>('GET', `${dsPath(ref)}/schema/diff`, undefined, { ...ns(ref), from, to }),

  search: (query: Query) => request<SearchResult>('GET', '/api/v1/search', undefined, query),
  suggest: (q: string) => request<{ items: Suggestion[] }>('GET', '/api/v1/search/suggest', undefined, { q, limit: 8 }),

  graph: (node: string, depth: number, direction: 'up' | 'down' | 'both') =>
    request<LineageGraph>('GET', '/api/v1/lineage/graph', undefined, { node, depth, direction }),
  impact: (node: string) => request<Impact>('GET', '/api/v1/lineage/impact', undefined, { node, limit: 2000 }),

  domains: () => request<ListPage<Domain>>('GET', '/api/v1/domains', undefined, { limit: 200 }),
  terms: (query?: Query) => request<ListPage<GlossaryTerm>>('GET', '/api/v1/glossary/terms', undefined, query),
  jobRuns: (namespace: string, name: string) =>
    request<ListPage<Run>>('GET', `/api/v1/jobs/${enc(namespace)}/${enc(name)}/runs`, undefined, { limit: 20 }),

  keys: () => request<ListPage<ApiKey>>('GET', '/api/v1/api-keys', undefined, { limit: 200 }),
  createKey: (body: { name: string; role: Role; type?: string; expires_at?: string }) =>
    request<ApiKey>('POST', '/api/v1/api-keys', body),
  revokeKey: (id: string) => request<void>('DELETE', `/api/v1/api-keys/${enc(id)}`),

  members: () => request<ListPage<Member>>('GET', '/api/v1/members', undefined, { limit: 200 }),
  setMemberRole: (userId: string, role: Role) => request<Member>('PUT', `/api/v1/members/${enc(userId)}`, { role }),
  removeMember: (userId: string) => request<void>('DELETE', `/api/v1/members/${enc(userId)}`),
  invitations: () => request<ListPage<Invitation>>('GET', '/api/v1/invitations', undefined, { limit: 200 }),
  invite: (email: string, role: Role) => request<Invitation>('POST', '/api/v1/invitations', { email, role }),
  cancelInvitation: (id: string) => request<void>('DELETE', `/api/v1/invitations/${enc(id)}`),
  audit: (query: Query) => request<ListPage<AuditEntry>>('GET', '/api/v1/audit', undefined, query),
  sso: () => request<SsoSettings>('GET', '/api/v1/sso'),
  saveSso: (body: Partial<SsoSettings> & { client_secret?: string }) => request<SsoSettings>('PUT', '/api/v1/sso', body),

  usage: (ref: DatasetRef, period: UsagePeriod) =>
    request<DatasetUsage>('GET', `${dsPath(ref)}/usage`, undefined, { ...ns(ref), period }),
  popular: (period: UsagePeriod, limit = 8) =>
    request<ListPage<PopularDataset>>('GET', '/api/v1/analytics/popular', undefined, { period, limit }),
  unused: (days = 30) => request<ListPage<UnusedDataset>>('GET', '/api/v1/analytics/unused', undefined, { days, limit: 50 }),
  health: () => request<Health>('GET', '/api/v1/analytics/health'),
  freshness: (ref: DatasetRef) => request<FreshnessPolicy>('GET', `${dsPath(ref)}/freshness`, undefined, ns(ref)),
  setFreshness: (ref: DatasetRef, body: { expected_interval_secs?: number; cron_schedule?: string; grace_period_secs?: number }) =>
    request<FreshnessPolicy>('PUT', withQuery(`${dsPath(ref)}/freshness`, ns(ref)), body),
  removeFreshness: (ref: DatasetRef) => request<void>('DELETE', withQuery(`${dsPath(ref)}/freshness`, ns(ref))),
  violations: () => request<ListPage<FreshnessPolicy>>('GET', '/api/v1/freshness/violations', undefined, { limit: 100 }),

  quality: (ref: DatasetRef) =>
    request<ListPage<QualityResult>>('GET', `${dsPath(ref)}/quality`, undefined, { ...ns(ref), limit: 50 }),
  classification: (ref: DatasetRef) =>
    request<DatasetClassification>('GET', `${dsPath(ref)}/classification`, undefined, ns(ref)),
  qualitySummary: (ref: DatasetRef) =>
    request<QualitySummary>('GET', `${dsPath(ref)}/quality/summary`, undefined, { ...ns(ref), days: 1 }),
  webhooks: () => request<ListPage<Webhook>>('GET', '/api/v1/webhooks', undefined, { limit: 100 }),
  createWebhook: (body: { url: string; events: string[]; secret: string; format?: string; description?: string }) =>
    request<Webhook>('POST', '/api/v1/webhooks', body),
  deleteWebhook: (id: string) => request<void>('DELETE', `/api/v1/webhooks/${enc(id)}`),
  deliveries: (id: string) =>
    request<ListPage<WebhookDelivery>>('GET', `/api/v1/webhooks/${enc(id)}/deliveries`, undefined, { limit: 50 }),
  billing: () => request<Billing>('GET', '/api/v1/billing'),

  plans: () => request<ListPage<Plan>>('GET', '/api/v1/admin/plans'),
  invoices: (month: string) => request<ListPage<Invoice>>('GET', '/api/v1/admin/invoices', undefined, { month, limit: 100 }),
  invoicesCsv: (month: string) => download(withQuery('/api/v1/admin/invoices', { month, format: 'csv' })),

  tenants: (query?: Query) => request<ListPage<Tenant>>('GET', '/api/v1/admin/tenants', undefined, query),
  createTenant: (name: string, plan: string) =>
    request<{ tenant: Tenant; api_key: string }>('POST', '/api/v1/admin/tenants', { name, plan }),
  updateTenant: (id: string, body: { name?: string; plan?: string; quotas?: Record<string, number | null> }) =>
    request<Tenant>('PUT', `/api/v1/admin/tenants/${enc(id)}`, body),
  suspendTenant: (id: string) => request<Tenant>('POST', `/api/v1/admin/tenants/${enc(id)}/suspend`),
  reactivateTenant: (id: string) => request<Tenant>('POST', `/api/v1/admin/tenants/${enc(id)}/reactivate`),
};
