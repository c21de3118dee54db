-- 0007_access: who may write which dataset, and what a scoped caller may
-- read, enforced in the database so that every write path is covered by
-- construction (REST, emit, OpenLineage, imports, anything added later).
--
-- The request's access arrives in the per-transaction settings the service
-- sets on every statement (libshared/src/pg.c, from the credential resolved
-- by mf_auth_key / mf_auth_session):
--   mf.write_all  'on': may write anywhere in the tenant (unscoped editor or
--                 admin keys, members whose tenant role is editor or admin)
--   mf.scope      '' or 'domain:<uuid>' / 'dataset:<uuid>' (scoped keys,
--                 whose role 0004 caps at editor)
--   mf.user_id    the signed-in user or a personal key's owner
--
-- Writes. A dataset may be written when mf.write_all = 'on'; else, for a
-- scoped caller, when it lies in the scope (its domain is the scope's domain,
-- or it is the scope's dataset); else, for a user, when the user holds an
-- editor grant on its domain or on the dataset itself. Nothing else may
-- (fail closed: a statement that carries no access at all writes nothing).
-- Row triggers apply it to every table a catalog write touches:
--   datasets         INSERT: the new row; UPDATE: the old row and the new one
--                    (moving a dataset between domains needs both; a dataset
--                    grant does not carry a dataset into another domain);
--                    DELETE: the old row. The trigger fires on every UPDATE
--                    (not UPDATE OF a column list, so that a column added
--                    later is checked by default); one that changes only the
--                    stored document, version or updated_at is a
--                    neighbour's bookkeeping (an edge added to it, its
--                    document refreshed by mf_refresh_docs) and passes.
--                    An INSERT whose name a dataset outside the caller's
--                    reach already holds is refused the same way (not a
--                    unique violation).
--   fields, dataset_versions, dataset_quality
--                    the dataset they belong to.
--   lineage_edges    the downstream (target) dataset: an edge belongs to the
--                    dataset it feeds, so a writer may record where its data
--                    comes from without write access to the upstream (whose
--                    document then lists the new downstream).
--   column_lineage   the downstream dataset of its edge.
--   domains, owners, glossary_terms, glossary_links
--                    tenant-wide objects: only mf.write_all callers create,
--                    change or delete them. Naming an existing domain or owner
--                    in a dataset write (INSERT ... ON CONFLICT DO NOTHING)
--                    passes.
--   jobs, runs, ingest_*, catalog_events, namespaces
--                    not checked: written only by the ingest worker (which
--                    applies events with write access to the whole tenant,
--                    and mf-ingest accepts events only from unscoped editor
--                    credentials) or as a consequence of a checked write.
-- A refusal raises SQLSTATE MF403 (HTTP 403) naming the dataset: "your
-- access does not reach dataset <namespace>/<name>" (the services audit it
-- as permission.denied). A scoped caller sees nothing outside its scope, so
-- naming a dataset there (as an upstream, say) would create it: refused.
--
-- Who is exempt: only statements that run outside Row Level Security, i.e.
-- the privileged paths that already bypass it (SECURITY DEFINER functions
-- owned by mf_owner such as mf_admin_* and mf_purge, the foreign-key
-- cascades of a tenant's or a dataset's deletion, which PostgreSQL runs as
-- the table owner, and maintenance as the owner). The ingest worker runs as
-- mf_app like the API, so mf_apply_events, its entry point, now sets
-- mf.write_all = 'on' (and clears mf.scope and mf.user_id) for the events it
-- applies, after refusing to run inside a scoped or per-user request context.
--
-- Reads. RESTRICTIVE policies (ANDed with tenant isolation) make a scoped
-- caller (mf.scope non-empty) see only datasets in its scope, and of the
-- rows that name or belong to datasets only those of visible datasets:
-- fields, versions, glossary links, quality facts, catalog events, lineage
-- edges whose two ends are visible, their column lineage, runs whose inputs
-- and outputs are all visible, jobs with such a run or edge; never ingest
-- events and failures (they name any dataset) or the audit log. Callers
-- without a scope see the whole tenant: every policy starts with an InitPlan
-- (SELECT mf_access_unscoped()) so their cost is one setting read per query.
-- The stored dataset document (datasets.doc, kept by mf_refresh_docs) lists
-- upstream and downstream neighbours of any domain; mf_access_dataset_doc
-- filters those lists for a scoped reader, and the services return documents
-- through it. So that a scoped writer still keeps its neighbours' documents
-- right, mf_refresh_docs, mf_neighbours and mf_lock_datasets now run as the
-- owner, restricted to the current tenant.

-- ---------- the caller's access ----------

-- The caller has no scope: it reads the whole tenant.
CREATE FUNCTION mf_access_unscoped() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('mf.scope', true), '') = ''
$$;

-- The scope's domain or dataset (NULL when the scope is of the other kind,
-- absent, or malformed: a malformed scope then reaches nothing).
CREATE FUNCTION mf_access_scope_domain() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s ~ '^domain:[0-9a-fA-F-]{36}$' THEN substr(s, 8)::uuid END
    FROM coalesce(current_setting('mf.scope', true), '') s
$$;

CREATE FUNCTION mf_access_scope_dataset() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s ~ '^dataset:[0-9a-fA-F-]{36}$' THEN substr(s, 9)::uuid END
    FROM coalesce(current_setting('mf.scope', true), '') s
$$;

-- The caller's user (NULL: none). Safe on any setting: the planner may
-- evaluate it early, whichever branch a CASE around it takes.
CREATE FUNCTION mf_access_user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s ~ '^[0-9a-fA-F-]{36}$' THEN s::uuid END
    FROM coalesce(current_setting('mf.user_id', true), '') s
$$;

-- Writes of the current statement need checking: it runs under Row Level
-- Security (the service role, not a privileged path) and may not write
-- anywhere in the tenant.
CREATE FUNCTION mf_access_restricted() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('mf.write_all', true), '') <> 'on' AND row_security_active('public.datasets')
$$;

-- May the caller write a dataset in domain p_domain (NULL: none) that is
-- p_dataset (NULL: a new dataset, or one leaving its domain)?
CREATE FUNCTION mf_access_may_write(p_domain uuid, p_dataset uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN coalesce(current_setting('mf.write_all', true), '') = 'on' THEN true
        -- a scoped credential reaches its scope and nothing else, whatever its user holds
        WHEN NOT mf_access_unscoped() THEN
            coalesce(p_domain = mf_access_scope_domain() OR p_dataset = mf_access_scope_dataset(), false)
        WHEN mf_access_user_id() IS NOT NULL THEN
            EXISTS (SELECT 1 FROM role_grants g
                    WHERE g.tenant_id = mf_current_tenant()
                      AND g.user_id = mf_access_user_id()
                      AND g.role = 'editor'
                      AND (g.domain_id = p_domain OR g.dataset_id = p_dataset))
        ELSE false
    END
$$;

-- The dataset (namespace, name) of the current tenant, whether or not the
-- caller sees it: what an INSERT would collide with. Privileged: returns
-- only the id and domain, for the check below.
CREATE FUNCTION mf_access_existing_dataset(p_ns text, p_name text, OUT id uuid, OUT domain_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.id, d.domain_id FROM datasets d
    WHERE d.tenant_id = mf_current_tenant() AND d.namespace = p_ns AND d.name = p_name
$$;

-- ' (in domain "x")' / ' (in no domain)': where a refused dataset would be.
CREATE FUNCTION mf_access_where(p_domain uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_domain IS NULL THEN ' (in no domain)'
                ELSE coalesce((SELECT format(' (in domain "%s")', name) FROM domains WHERE id = p_domain), '') END
$$;

-- Raise 403 unless the caller may write the dataset p_id (which it must see).
CREATE FUNCTION mf_access_check_dataset(p_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE d record;
BEGIN
    SELECT x.namespace, x.name, x.domain_id INTO d FROM datasets x WHERE x.id = p_id;
    IF NOT FOUND THEN
        PERFORM mf_raise('403', 'your access does not reach this dataset');
    END IF;
    IF NOT mf_access_may_write(d.domain_id, p_id) THEN
        PERFORM mf_raise('403', format('your access does not reach dataset %s/%s', d.namespace, d.name));
    END IF;
END
$$;

-- ---------- write checks ----------

CREATE FUNCTION mf_access_datasets_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb;
    taken record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_j := to_jsonb(OLD) - 'doc' - 'version' - 'updated_at';
        IF old_j = to_jsonb(NEW) - 'doc' - 'version' - 'updated_at' THEN
            RETURN NEW; -- bookkeeping (see the top of this file)
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' AND NOT mf_access_may_write(OLD.domain_id, OLD.id) THEN
        PERFORM mf_raise('403', format('your access does not reach dataset %s/%s', OLD.namespace, OLD.name));
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- the name may be taken by a dataset the caller does not see: say so
        -- rather than fail on the unique index
        SELECT * INTO taken FROM mf_access_existing_dataset(NEW.namespace, NEW.name);
        IF taken.id IS NOT NULL AND NOT mf_access_may_write(taken.domain_id, taken.id) THEN
            PERFORM mf_raise('403', format('your access does not reach dataset %s/%s', NEW.namespace, NEW.name));
        END IF;
        IF NOT mf_access_may_write(NEW.domain_id, NULL) THEN
            PERFORM mf_raise('403', format('your access does not reach dataset %s/%s%s', NEW.namespace, NEW.name,
                                           mf_access_where(NEW.domain_id)));
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        -- the dataset as it will be: a grant on the dataset itself keeps it in its domain
        IF NOT mf_access_may_write(NEW.domain_id, CASE WHEN NEW.domain_id IS NOT DISTINCT FROM OLD.domain_id
                                                       THEN NEW.id END) THEN
            PERFORM mf_raise('403', format('your access does not reach dataset %s/%s%s', NEW.namespace, NEW.name,
                                           mf_access_where(NEW.domain_id)));
        END IF;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- Rows that belong to one dataset (a dataset_id column).
CREATE FUNCTION mf_access_dataset_row_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM mf_access_check_dataset(OLD.dataset_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.dataset_id IS DISTINCT FROM OLD.dataset_id) THEN
        PERFORM mf_access_check_dataset(NEW.dataset_id);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- A lineage edge belongs to its downstream dataset.
CREATE FUNCTION mf_access_edge_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM mf_access_check_dataset(OLD.target_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.target_id IS DISTINCT FROM OLD.target_id) THEN
        PERFORM mf_access_check_dataset(NEW.target_id);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE FUNCTION mf_access_column_lineage_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE v_target uuid;
BEGIN
    SELECT e.target_id INTO v_target FROM lineage_edges e
    WHERE e.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.edge_id ELSE NEW.edge_id END;
    PERFORM mf_access_check_dataset(v_target);
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- Tenant-wide objects (TG_ARGV[0]: what the message calls them).
CREATE FUNCTION mf_access_tenant_object_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_j jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
    taken boolean := false;
BEGIN
    IF TG_OP = 'INSERT' AND row_j ? 'name' THEN
        -- naming one that exists (INSERT ... ON CONFLICT DO NOTHING) changes nothing
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE tenant_id = $1 AND name = $2)', TG_TABLE_NAME)
            INTO taken USING (row_j->>'tenant_id')::uuid, row_j->>'name';
        IF taken THEN
            RETURN NEW;
        END IF;
    END IF;
    PERFORM mf_raise('403', format('%s %s%s needs write access to the whole tenant (an unscoped editor key, '
                                   'or the editor role in the tenant)',
                                   CASE TG_OP WHEN 'INSERT' THEN 'creating' WHEN 'UPDATE' THEN 'changing'
                                              ELSE 'deleting' END,
                                   TG_ARGV[0], coalesce(format(' "%s"', row_j->>'name'), '')));
    RETURN NULL;
END
$$;

CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON datasets
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_datasets_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON fields
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON dataset_versions
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON dataset_quality
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON lineage_edges
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_edge_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON column_lineage
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_column_lineage_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON domains
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_tenant_object_guard('domain');
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON owners
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_tenant_object_guard('owner');
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON glossary_terms
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_tenant_object_guard('glossary term');
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON glossary_links
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_tenant_object_guard('glossary link');

-- ---------- what a scoped caller reads ----------

-- Every {namespace, name} of refs (a JSON array) is a dataset the caller sees.
CREATE FUNCTION mf_access_refs_visible(refs jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(refs) = 'array' THEN refs ELSE '[]' END) r
        WHERE NOT EXISTS (SELECT 1 FROM datasets d WHERE d.tenant_id = mf_current_tenant()
                            AND d.namespace = r->>'namespace' AND d.name = r->>'name'))
$$;

-- The refs of a JSON array the caller sees, in order.
CREATE FUNCTION mf_access_visible_refs(refs jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(r ORDER BY o), '[]')
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(refs) = 'array' THEN refs ELSE '[]' END) WITH ORDINALITY x(r, o)
    WHERE EXISTS (SELECT 1 FROM datasets d WHERE d.tenant_id = mf_current_tenant()
                    AND d.namespace = r->>'namespace' AND d.name = r->>'name')
$$;

-- A stored dataset document as the caller may read it: a scoped caller does
-- not see neighbours outside its scope in upstream and downstream.
CREATE FUNCTION mf_access_dataset_doc(p_doc jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN mf_access_unscoped() OR p_doc IS NULL OR NOT (p_doc ? 'upstream' OR p_doc ? 'downstream')
                THEN p_doc
                ELSE p_doc || jsonb_build_object('upstream', mf_access_visible_refs(p_doc->'upstream'),
                                                 'downstream', mf_access_visible_refs(p_doc->'downstream')) END
$$;

-- Plain (inlined) calls here, not one-off subselects: the single-row reads of
-- the hot path (GET a dataset) pay about 8% for the subselects' init plans,
-- while a setting read per row costs little even in a full scan.
CREATE POLICY caller_scope ON datasets AS RESTRICTIVE FOR SELECT
    USING (mf_access_unscoped() OR domain_id = mf_access_scope_domain() OR id = mf_access_scope_dataset());

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['fields', 'dataset_versions', 'glossary_links', 'dataset_quality', 'catalog_events'] LOOP
        EXECUTE format('CREATE POLICY caller_scope ON %I AS RESTRICTIVE FOR SELECT '
                       'USING ((SELECT mf_access_unscoped()) '
                       '       OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = %I.dataset_id))', t, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['ingest_events', 'ingest_failures', 'audit_log'] LOOP
        EXECUTE format('CREATE POLICY caller_scope ON %I AS RESTRICTIVE FOR SELECT '
                       'USING ((SELECT mf_access_unscoped()))', t);
    END LOOP;
END
$$;

CREATE POLICY caller_scope ON lineage_edges AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped())
           OR (EXISTS (SELECT 1 FROM datasets s WHERE s.id = lineage_edges.source_id)
               AND EXISTS (SELECT 1 FROM datasets t WHERE t.id = lineage_edges.target_id)));

CREATE POLICY caller_scope ON column_lineage AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped())
           OR EXISTS (SELECT 1 FROM lineage_edges e WHERE e.id = column_lineage.edge_id));

-- A run names its inputs and outputs: visible when it names at least one
-- dataset and the caller sees them all.
CREATE POLICY caller_scope ON runs AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped())
           OR (jsonb_typeof(inputs) = 'array' AND jsonb_typeof(outputs) = 'array'
               AND jsonb_array_length(inputs) + jsonb_array_length(outputs) > 0
               AND mf_access_refs_visible(inputs) AND mf_access_refs_visible(outputs)));

-- A job: visible with one visible run or lineage edge.
CREATE POLICY caller_scope ON jobs AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped())
           OR EXISTS (SELECT 1 FROM runs r WHERE r.job_id = jobs.id)
           OR EXISTS (SELECT 1 FROM lineage_edges e WHERE e.job_id = jobs.id));

-- ---------- documents stay right whoever writes ----------

-- (0002's, now as the owner: the neighbours of a scoped writer's dataset may
-- lie outside its scope, and their documents must still list it.)
CREATE OR REPLACE FUNCTION mf_refresh_docs(p_ids uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE datasets d SET doc = mf_dataset_doc(d) WHERE d.id = ANY (p_ids) AND d.tenant_id = mf_current_tenant()
$$;

CREATE OR REPLACE FUNCTION mf_lock_datasets(p_ids uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT NULL::void FROM (SELECT id FROM datasets WHERE id = ANY (p_ids) AND tenant_id = mf_current_tenant()
                            ORDER BY id FOR UPDATE) x
$$;

CREATE OR REPLACE FUNCTION mf_neighbours(p_id uuid) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(array_agg(DISTINCT n), '{}') FROM (
        SELECT source_id AS n FROM lineage_edges WHERE target_id = p_id AND tenant_id = mf_current_tenant()
        UNION ALL SELECT target_id FROM lineage_edges WHERE source_id = p_id AND tenant_id = mf_current_tenant()) x
$$;

REVOKE ALL ON FUNCTION mf_refresh_docs(uuid[]), mf_lock_datasets(uuid[]), mf_neighbours(uuid),
    mf_access_existing_dataset(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_refresh_docs(uuid[]), mf_lock_datasets(uuid[]), mf_neighbours(uuid),
    mf_access_existing_dataset(text, text) TO mf_app;

-- ---------- the ingest worker ----------

/*
 * 0003's worker batch, now applying each event with write access to the
 * whole tenant (mf-ingest accepts events only from credentials that have
 * it). Refuses to run inside a request that carries a scope or a user: the
 * worker's own transactions carry neither.
 */
CREATE OR REPLACE FUNCTION mf_apply_events(evs jsonb)
RETURNS TABLE (event_id text, status text, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ev jsonb;
    v_summary jsonb;
BEGIN
    IF NOT mf_access_unscoped() OR coalesce(current_setting('mf.user_id', true), '') <> '' THEN
        PERFORM mf_raise('403', 'ingest needs an unscoped editor key');
    END IF;
    FOR ev IN SELECT * FROM jsonb_array_elements(evs) LOOP
        event_id := ev->>'event_id';
        BEGIN
            PERFORM set_config('mf.tenant_id', ev->>'tenant_id', true),
                    set_config('mf.actor', coalesce(ev->>'actor', ''), true),
                    set_config('mf.request_id', coalesce(ev->>'request_id', ''), true),
                    set_config('mf.client_addr', '', true),
                    set_config('mf.write_all', 'on', true),
                    set_config('mf.scope', '', true),
                    set_config('mf.user_id', '', true);
            INSERT INTO ingest_events (event_id, tenant_id, source, received_at)
            VALUES ((ev->>'event_id')::uuid, (ev->>'tenant_id')::uuid, coalesce(ev->>'source', ''),
                    coalesce((ev->>'received_at')::timestamptz, now()))
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                status := 'duplicate'; detail := NULL;
            ELSE
                v_summary := mf_apply_event(ev);
                UPDATE ingest_events SET summary = v_summary WHERE ingest_events.event_id = (ev->>'event_id')::uuid;
                status := 'applied'; detail := v_summary::text;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            status := 'error'; detail := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
