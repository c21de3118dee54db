-- 0001_core: tenants, plans, API keys, the catalog model, lineage, glossary,
-- audit, Row Level Security. Runs as mf_owner (owns everything); services
-- connect as mf_app, which owns nothing and is subject to every policy.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- The tenant of the current transaction, set by the service with
-- set_config('mf.tenant_id', ..., true). NULL when unset: policies then match nothing.
CREATE FUNCTION mf_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('mf.tenant_id', true), '')::uuid
$$;

-- Raise an API error: SQLSTATE MFnnn maps to HTTP status nnn in the service.
CREATE FUNCTION mf_raise(status text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'MF' || status, MESSAGE = message;
END
$$;

CREATE FUNCTION mf_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE TABLE plans (
    name            text PRIMARY KEY,
    max_datasets    integer NOT NULL,
    max_seats       integer NOT NULL,
    max_api_calls   bigint  NOT NULL,
    max_emit_events bigint  NOT NULL,
    max_rps         integer NOT NULL,
    audit_retention_days integer NOT NULL
);
INSERT INTO plans VALUES
    ('free',        1000,    5,    100000,    100000,   20,   30),
    ('team',      100000,   50,  10000000,  10000000,  200,  365),
    ('enterprise', 10000000, 100000, 1000000000, 1000000000, 2000, 2555);

CREATE TABLE tenants (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    plan       text NOT NULL REFERENCES plans(name),
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid REFERENCES tenants(id) ON DELETE CASCADE, -- NULL: platform key
    name         text NOT NULL DEFAULT '',
    prefix       text NOT NULL UNIQUE,
    secret_hash  text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'platform_admin')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT '',
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK ((tenant_id IS NULL) = (role = 'platform_admin'))
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at, id);

CREATE TABLE namespaces (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE domains (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE owners (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       text NOT NULL,
    email      text,
    team       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE datasets (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    namespace      text NOT NULL,
    name           text NOT NULL,
    path           text NOT NULL DEFAULT '',
    format         text NOT NULL DEFAULT '',
    description    text NOT NULL DEFAULT '',
    domain_id      uuid REFERENCES domains(id) ON DELETE SET NULL,
    owner_id       uuid REFERENCES owners(id) ON DELETE SET NULL,
    tags           text[] NOT NULL DEFAULT '{}',
    row_count      bigint,
    size_bytes     bigint,
    partition_keys text[] NOT NULL DEFAULT '{}',
    placeholder    boolean NOT NULL DEFAULT false,
    lifecycle      text NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'dropped')),
    facets         jsonb NOT NULL DEFAULT '{}',   -- raw facets as pipelines reported them
    doc            jsonb,                         -- the API document, kept current by every writer
    version        integer NOT NULL DEFAULT 1,
    schema_version integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, namespace, name),
    FOREIGN KEY (tenant_id, namespace) REFERENCES namespaces(tenant_id, name)
);
CREATE INDEX datasets_tags ON datasets USING gin (tags);
CREATE INDEX datasets_updated ON datasets (tenant_id, updated_at);
CREATE INDEX datasets_domain ON datasets (domain_id);
CREATE INDEX datasets_owner ON datasets (owner_id);

CREATE TABLE fields (
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id  uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    ordinal     integer NOT NULL,
    name        text NOT NULL,
    type        text NOT NULL,
    nullable    boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    tags        text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (dataset_id, ordinal),
    UNIQUE (dataset_id, name)
);
CREATE INDEX fields_tags ON fields USING gin (tags);

-- One row per schema version: the fields as they were, and whether the change broke readers.
CREATE TABLE dataset_versions (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    version    integer NOT NULL,
    fields     jsonb NOT NULL,
    breaking   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, version)
);

CREATE TABLE glossary_terms (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       text NOT NULL,
    definition text NOT NULL DEFAULT '',
    status     text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'deprecated')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE glossary_links (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    term_id    uuid NOT NULL REFERENCES glossary_terms(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    field_name text NOT NULL DEFAULT '', -- '' links the whole dataset
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (term_id, dataset_id, field_name)
);
CREATE INDEX glossary_links_dataset ON glossary_links (dataset_id);

CREATE TABLE lineage_edges (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    source_id  uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    target_id  uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_id, target_id),
    CHECK (source_id <> target_id)
);
CREATE INDEX lineage_edges_target ON lineage_edges (target_id);

CREATE TABLE column_lineage (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    edge_id        uuid NOT NULL REFERENCES lineage_edges(id) ON DELETE CASCADE,
    source_field   text NOT NULL,
    target_field   text NOT NULL,
    transformation text NOT NULL DEFAULT '',
    expression     text NOT NULL DEFAULT '',
    UNIQUE (edge_id, source_field, target_field)
);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid,          -- NULL: platform-level event
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL DEFAULT '',
    action      text NOT NULL,
    target      text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    client_addr text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id DESC);

-- Row Level Security: every tenant-owned table sees only mf_current_tenant().
-- Later migrations call this for the tables they add.
CREATE FUNCTION mf_enable_tenant_isolation(p_tables text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY p_tables LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = mf_current_tenant()) '
                       'WITH CHECK (tenant_id = mf_current_tenant())', t);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION mf_enable_tenant_isolation(text[]) FROM PUBLIC;

SELECT mf_enable_tenant_isolation(ARRAY['api_keys', 'namespaces', 'domains', 'owners', 'datasets', 'fields',
                                        'dataset_versions', 'glossary_terms', 'glossary_links', 'lineage_edges',
                                        'column_lineage', 'audit_log']);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON tenants USING (id = mf_current_tenant());

-- Audit: one row per changed row of the audited tables, with before and after.
CREATE FUNCTION mf_audit_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_j jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    row_j jsonb := coalesce(new_j, old_j);
BEGIN
    IF TG_TABLE_NAME = 'api_keys' THEN
        old_j := old_j - 'secret_hash';
        new_j := new_j - 'secret_hash';
    ELSIF TG_TABLE_NAME = 'datasets' THEN
        -- the stored document is derived data: not audited, and refreshing it is no change
        old_j := old_j - 'doc';
        new_j := new_j - 'doc';
        IF TG_OP = 'UPDATE' AND old_j = new_j THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
    VALUES ((row_j->>'tenant_id')::uuid,
            coalesce(current_setting('mf.actor', true), ''),
            TG_ARGV[0] || '.' || CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE lower(TG_OP) END,
            coalesce(CASE WHEN row_j ? 'namespace' THEN (row_j->>'namespace') || '/' END, '') ||
                coalesce(row_j->>'name', row_j->>'prefix', row_j->>'id', ''),
            coalesce(current_setting('mf.request_id', true), ''),
            coalesce(current_setting('mf.client_addr', true), ''),
            old_j, new_j);
    RETURN NULL;
END
$$;

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON datasets FOR EACH ROW EXECUTE FUNCTION mf_audit_row('dataset');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON domains FOR EACH ROW EXECUTE FUNCTION mf_audit_row('domain');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON owners FOR EACH ROW EXECUTE FUNCTION mf_audit_row('owner');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON glossary_terms FOR EACH ROW EXECUTE FUNCTION mf_audit_row('glossary_term');
CREATE TRIGGER audit AFTER INSERT OR DELETE ON glossary_links FOR EACH ROW EXECUTE FUNCTION mf_audit_row('glossary_link');
CREATE TRIGGER audit AFTER INSERT OR DELETE ON lineage_edges FOR EACH ROW EXECUTE FUNCTION mf_audit_row('lineage_edge');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION mf_audit_row('api_key');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON tenants FOR EACH ROW EXECUTE FUNCTION mf_audit_row('tenant');

-- The service role: reads and writes under RLS, never owns, never bypasses.
GRANT USAGE ON SCHEMA public TO mf_app;
GRANT SELECT ON plans, tenants TO mf_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys, namespaces, domains, owners, datasets, fields,
    dataset_versions, glossary_terms, glossary_links, lineage_edges, column_lineage TO mf_app;
GRANT SELECT, INSERT ON audit_log TO mf_app;
