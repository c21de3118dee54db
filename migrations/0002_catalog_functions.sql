-- 0002_catalog_functions: the catalog write path and the documents the API
-- returns. Every writer (REST, emit, OpenLineage, imports) sends a
-- normalized change set to mf_apply_dataset through libshared's
-- mf_catalog_apply; these functions run as the caller (mf_app, under RLS)
-- except the few SECURITY DEFINER ones marked as the privileged path.

-- ---------- privileged path (runs as the owner; bypasses RLS on purpose) ----------

-- Resolve an API key: only when the hash matches, it is live and its tenant is active.
CREATE FUNCTION mf_auth_key(p_prefix text, p_hash text)
RETURNS TABLE (key_id uuid, tenant_id uuid, role text, emit_quota bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k api_keys;
    quota bigint := 0;
BEGIN
    SELECT * INTO k FROM api_keys a WHERE a.prefix = p_prefix;
    IF NOT FOUND OR k.secret_hash <> p_hash OR k.revoked_at IS NOT NULL
       OR (k.expires_at IS NOT NULL AND k.expires_at <= now()) THEN
        RETURN;
    END IF;
    IF k.tenant_id IS NOT NULL THEN
        SELECT p.max_emit_events INTO quota FROM tenants t JOIN plans p ON p.name = t.plan
        WHERE t.id = k.tenant_id AND t.status = 'active';
        IF NOT FOUND THEN
            RETURN;
        END IF;
    END IF;
    IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' THEN
        UPDATE api_keys SET last_used_at = now() WHERE id = k.id;
    END IF;
    key_id := k.id; tenant_id := k.tenant_id; role := k.role; emit_quota := quota;
    RETURN NEXT;
END
$$;

CREATE FUNCTION mf_tenant_doc(t tenants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'name', t.name, 'plan', t.plan, 'status', t.status,
                              'created_at', mf_ts(t.created_at))
$$;

-- Create a tenant and its first admin key (platform admin only; checked by the service's route table).
CREATE FUNCTION mf_admin_create_tenant(p_name text, p_plan text, p_prefix text, p_hash text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE t tenants;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM plans WHERE name = p_plan) THEN
        PERFORM mf_raise('400', format('plan must be one of: %s', (SELECT string_agg(name, ', ' ORDER BY max_datasets) FROM plans)));
    END IF;
    IF EXISTS (SELECT 1 FROM tenants WHERE name = p_name) THEN
        PERFORM mf_raise('409', format('a tenant named "%s" already exists', p_name));
    END IF;
    INSERT INTO tenants (name, plan) VALUES (p_name, p_plan) RETURNING * INTO t;
    PERFORM set_config('mf.tenant_id', t.id::text, true);
    INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, created_by)
    VALUES (t.id, 'initial admin key', p_prefix, p_hash, 'admin', coalesce(current_setting('mf.actor', true), ''));
    RETURN mf_tenant_doc(t);
END
$$;

CREATE FUNCTION mf_admin_list_tenants(p_limit integer, p_after jsonb)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH page AS (
        SELECT t FROM tenants t
        WHERE p_after IS NULL OR t.name > p_after->>0
        ORDER BY t.name LIMIT p_limit + 1
    ), numbered AS (SELECT t, row_number() OVER (ORDER BY (t).name) AS n FROM page)
    SELECT coalesce(jsonb_agg(mf_tenant_doc(t) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN jsonb_build_array(max((t).name) FILTER (WHERE n <= p_limit))::text END
    FROM numbered
$$;

CREATE FUNCTION mf_admin_get_tenant(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT mf_tenant_doc(t) FROM tenants t WHERE t.id = p_id
$$;

REVOKE ALL ON FUNCTION mf_auth_key(text, text), mf_admin_create_tenant(text, text, text, text),
    mf_admin_list_tenants(integer, jsonb), mf_admin_get_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_auth_key(text, text), mf_admin_create_tenant(text, text, text, text),
    mf_admin_list_tenants(integer, jsonb), mf_admin_get_tenant(uuid) TO mf_app;

-- ---------- documents ----------

CREATE FUNCTION mf_ref(ns text, n text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_build_object('namespace', ns, 'name', n) $$;

CREATE FUNCTION mf_fields_json(p_dataset uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', f.name, 'type', f.type, 'nullable', f.nullable,
                                                 'description', f.description, 'tags', to_jsonb(f.tags),
                                                 'ordinal', f.ordinal) ORDER BY f.ordinal), '[]')
    FROM fields f WHERE f.dataset_id = p_dataset
$$;

-- A list item: the stored document without its long members.
CREATE FUNCTION mf_dataset_summary(d datasets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (d.doc - 'fields' - 'upstream' - 'downstream' - 'operational' - 'schema_version' - 'facets')
           || jsonb_build_object('field_count', jsonb_array_length(d.doc->'fields'))
$$;

CREATE FUNCTION mf_dataset_doc(d datasets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', d.id, 'namespace', d.namespace, 'name', d.name, 'path', d.path, 'format', d.format,
        'description', d.description,
        'domain', (SELECT name FROM domains WHERE id = d.domain_id),
        'owner', (SELECT name FROM owners WHERE id = d.owner_id),
        'tags', to_jsonb(d.tags),
        'fields', mf_fields_json(d.id),
        'upstream', (SELECT coalesce(jsonb_agg(mf_ref(s.namespace, s.name) ORDER BY s.namespace, s.name), '[]')
                     FROM lineage_edges e JOIN datasets s ON s.id = e.source_id WHERE e.target_id = d.id),
        'downstream', (SELECT coalesce(jsonb_agg(mf_ref(t.namespace, t.name) ORDER BY t.namespace, t.name), '[]')
                       FROM lineage_edges e JOIN datasets t ON t.id = e.target_id WHERE e.source_id = d.id),
        'operational', jsonb_build_object('row_count', d.row_count, 'size_bytes', d.size_bytes,
                                          'partition_keys', to_jsonb(d.partition_keys)),
        'placeholder', d.placeholder, 'lifecycle', d.lifecycle, 'facets', d.facets,
        'version', d.version, 'schema_version', d.schema_version,
        'created_at', mf_ts(d.created_at), 'updated_at', mf_ts(d.updated_at))
$$;

-- Recompute the stored documents of these datasets (after any change that shows in them:
-- the dataset itself, its fields, tags, domain or owner, or an edge to or from it).
CREATE FUNCTION mf_refresh_docs(p_ids uuid[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE datasets d SET doc = mf_dataset_doc(d) WHERE d.id = ANY (p_ids)
$$;

-- Lock datasets in id order before changing what their documents show, so that
-- concurrent writers serialise on them (and each refresh sees the other's edges).
CREATE FUNCTION mf_lock_datasets(p_ids uuid[]) RETURNS void
LANGUAGE sql AS $$
    SELECT NULL::void FROM (SELECT id FROM datasets WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE) x
$$;

-- The datasets whose documents list d (its upstream and downstream neighbours).
CREATE FUNCTION mf_neighbours(p_id uuid) RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT n), '{}') FROM (
        SELECT source_id AS n FROM lineage_edges WHERE target_id = p_id
        UNION ALL SELECT target_id FROM lineage_edges WHERE source_id = p_id) x
$$;

-- ---------- schema diff ----------

-- Compare two field arrays ([{name,type,nullable,...}]). Breaking: a removed
-- column, a changed type, or a column that became non-nullable.
CREATE FUNCTION mf_schema_diff(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH fa AS (SELECT f->>'name' AS name, f AS field FROM jsonb_array_elements(coalesce(a, '[]')) f),
         fb AS (SELECT f->>'name' AS name, f AS field FROM jsonb_array_elements(coalesce(b, '[]')) f),
         added AS (SELECT fb.field FROM fb WHERE fb.name NOT IN (SELECT name FROM fa)),
         removed AS (SELECT fa.field FROM fa WHERE fa.name NOT IN (SELECT name FROM fb)),
         changed AS (
            SELECT fa.name,
                   jsonb_build_object('type', fa.field->'type', 'nullable', fa.field->'nullable') AS f_from,
                   jsonb_build_object('type', fb.field->'type', 'nullable', fb.field->'nullable') AS f_to,
                   ((fa.field->>'type' <> fb.field->>'type' AND fa.field->>'type' <> '' AND fb.field->>'type' <> '')
                    OR ((fa.field->>'nullable')::boolean AND NOT (fb.field->>'nullable')::boolean)) AS breaking
            FROM fa JOIN fb USING (name)
            WHERE fa.field->>'type' <> fb.field->>'type' OR fa.field->'nullable' <> fb.field->'nullable')
    SELECT jsonb_build_object(
        'added', (SELECT coalesce(jsonb_agg(field), '[]') FROM added),
        'removed', (SELECT coalesce(jsonb_agg(field), '[]') FROM removed),
        'changed', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'from', f_from, 'to', f_to)), '[]') FROM changed),
        'breaking', EXISTS (SELECT 1 FROM removed) OR EXISTS (SELECT 1 FROM changed WHERE breaking))
$$;

-- ---------- lookups ----------

CREATE FUNCTION mf_ensure_namespace(p_ns text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO namespaces (tenant_id, name) VALUES (mf_current_tenant(), p_ns) ON CONFLICT DO NOTHING
$$;

-- The dataset (namespace, name), locked for update; 404 when absent.
CREATE FUNCTION mf_dataset_for_update(p_ns text, p_name text) RETURNS datasets
LANGUAGE plpgsql AS $$
DECLARE d datasets;
BEGIN
    SELECT * INTO d FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = p_ns AND name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', format('dataset %s/%s not found', p_ns, p_name));
    END IF;
    RETURN d;
END
$$;

-- The id of (namespace, name) for reads; 404 when absent. No lock.
CREATE FUNCTION mf_dataset_id(p_ns text, p_name text) RETURNS uuid
LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE v_id uuid;
BEGIN
    SELECT id INTO v_id FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = p_ns AND name = p_name;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', format('dataset %s/%s not found', p_ns, p_name));
    END IF;
    RETURN v_id;
END
$$;

-- The id of (namespace, name), creating a placeholder when absent so no lineage is dropped.
CREATE FUNCTION mf_ensure_dataset(p_ns text, p_name text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE v_id uuid;
BEGIN
    SELECT id INTO v_id FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = p_ns AND name = p_name;
    IF FOUND THEN RETURN v_id; END IF;
    PERFORM mf_ensure_namespace(p_ns);
    INSERT INTO datasets (tenant_id, namespace, name, placeholder)
    VALUES (mf_current_tenant(), p_ns, p_name, true)
    ON CONFLICT (tenant_id, namespace, name) DO NOTHING RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        PERFORM mf_refresh_docs(ARRAY[v_id]);
    ELSE
        SELECT id INTO v_id FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = p_ns AND name = p_name;
    END IF;
    RETURN v_id;
END
$$;

CREATE FUNCTION mf_check_if_match(d datasets, p_if_match integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_if_match IS NOT NULL AND p_if_match <> d.version THEN
        PERFORM mf_raise('412', format('dataset %s/%s is at version %s, not %s', d.namespace, d.name, d.version, p_if_match));
    END IF;
END
$$;

-- The normalized field list of a change set or a version: [{name,type,nullable,description,tags,ordinal}].
CREATE FUNCTION mf_normalize_fields(p_fields jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'name', f->>'name', 'type', f->>'type', 'nullable', coalesce((f->>'nullable')::boolean, true),
               'description', coalesce(f->>'description', ''),
               'tags', coalesce((SELECT jsonb_agg(DISTINCT t ORDER BY t) FROM jsonb_array_elements_text(f->'tags') t), '[]'),
               'ordinal', o - 1) ORDER BY o), '[]')
    FROM jsonb_array_elements(coalesce(p_fields, '[]')) WITH ORDINALITY AS x(f, o)
$$;

-- What makes a schema version: names, types, nullability and order.
CREATE FUNCTION mf_schema_shape(p_fields jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_array(f->'name', f->'type', f->'nullable') ORDER BY o), '[]')
    FROM jsonb_array_elements(coalesce(p_fields, '[]')) WITH ORDINALITY AS x(f, o)
$$;

-- ---------- the write path ----------

/*
 * Apply one normalized change set (see libshared/include/mf/catalog.h) to a dataset:
 *   mode 'create'  : 409 when it exists and is not a placeholder
 *   mode 'replace' : 404 when absent; omitted members become empty
 *   mode 'merge'   : create or update; omitted members are kept (ingest)
 * p_if_match: the expected version or NULL. Returns the dataset document.
 */
CREATE FUNCTION mf_apply_dataset(cs jsonb, p_mode text, p_if_match integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_tenant uuid := mf_current_tenant();
    v_ns text := cs->>'namespace';
    v_name text := cs->>'name';
    d datasets;
    existed boolean;
    v_domain uuid;
    v_owner uuid;
    v_keep boolean := p_mode = 'merge';
    up jsonb;
    v_fields jsonb;          -- the new field list, when fields change
    v_prev jsonb;            -- the latest schema version's fields
    v_new_version boolean := false;
    v_touched uuid[] := '{}';  -- datasets whose documents show this change
BEGIN
    IF v_tenant IS NULL THEN
        PERFORM mf_raise('403', 'no tenant context');
    END IF;
    PERFORM mf_ensure_namespace(v_ns);
    SELECT * INTO d FROM datasets WHERE tenant_id = v_tenant AND namespace = v_ns AND name = v_name FOR UPDATE;
    existed := FOUND;
    IF p_mode = 'create' AND existed AND NOT d.placeholder THEN
        PERFORM mf_raise('409', format('dataset %s/%s already exists', v_ns, v_name));
    ELSIF p_mode = 'replace' AND NOT existed THEN
        PERFORM mf_raise('404', format('dataset %s/%s not found', v_ns, v_name));
    END IF;
    IF existed THEN
        PERFORM mf_check_if_match(d, p_if_match);
    END IF;

    IF cs ? 'domain' AND cs->>'domain' IS NOT NULL THEN
        INSERT INTO domains (tenant_id, name) VALUES (v_tenant, cs->>'domain') ON CONFLICT DO NOTHING;
        SELECT id INTO v_domain FROM domains WHERE tenant_id = v_tenant AND name = cs->>'domain';
    ELSIF v_keep AND existed AND NOT cs ? 'domain' THEN
        v_domain := d.domain_id;
    END IF;
    IF cs ? 'owner' AND cs->>'owner' IS NOT NULL THEN
        INSERT INTO owners (tenant_id, name) VALUES (v_tenant, cs->>'owner') ON CONFLICT DO NOTHING;
        SELECT id INTO v_owner FROM owners WHERE tenant_id = v_tenant AND name = cs->>'owner';
    ELSIF v_keep AND existed AND NOT cs ? 'owner' THEN
        v_owner := d.owner_id;
    END IF;

    -- A new schema version when the fields' shape changed (or the first non-empty schema).
    IF cs ? 'fields' OR NOT v_keep THEN
        IF v_keep AND existed THEN
            -- merging (ingest): a field's tags and description that the change set leaves out are kept
            cs := jsonb_set(cs, '{fields}', (
                SELECT coalesce(jsonb_agg(
                    CASE WHEN old.name IS NULL THEN nf
                         ELSE nf || CASE WHEN nf ? 'tags' THEN '{}' ELSE jsonb_build_object('tags', to_jsonb(old.tags)) END
                                 || CASE WHEN nf ? 'description' THEN '{}' ELSE jsonb_build_object('description', old.description) END
                    END ORDER BY o), '[]')
                FROM jsonb_array_elements(cs->'fields') WITH ORDINALITY AS x(nf, o)
                LEFT JOIN fields old ON old.dataset_id = d.id AND old.name = nf->>'name'));
        END IF;
        v_fields := mf_normalize_fields(cs->'fields');
        IF existed THEN
            SELECT fields INTO v_prev FROM dataset_versions WHERE dataset_id = d.id ORDER BY version DESC LIMIT 1;
        END IF;
        v_new_version := CASE WHEN v_prev IS NULL THEN jsonb_array_length(v_fields) > 0
                              ELSE mf_schema_shape(v_prev) <> mf_schema_shape(v_fields) END;
    END IF;

    IF NOT existed THEN
        -- a new dataset: whatever was not given is empty
        INSERT INTO datasets (tenant_id, namespace, name, path, format, description, domain_id, owner_id, tags,
                              row_count, size_bytes, partition_keys, schema_version)
        VALUES (v_tenant, v_ns, v_name, coalesce(cs->>'path', ''), coalesce(cs->>'format', ''),
                coalesce(cs->>'description', ''), v_domain, v_owner,
                ARRAY(SELECT DISTINCT jsonb_array_elements_text(coalesce(cs->'tags', '[]')) ORDER BY 1),
                (cs->'operational'->>'row_count')::bigint, (cs->'operational'->>'size_bytes')::bigint,
                ARRAY(SELECT jsonb_array_elements_text(coalesce(cs->'operational'->'partition_keys', '[]'))),
                CASE WHEN v_new_version THEN 1 ELSE 0 END)
        RETURNING * INTO d;
    ELSE
        UPDATE datasets SET
            path = CASE WHEN cs ? 'path' OR NOT v_keep THEN coalesce(cs->>'path', '') ELSE path END,
            format = CASE WHEN cs ? 'format' OR NOT v_keep THEN coalesce(cs->>'format', '') ELSE format END,
            description = CASE WHEN cs ? 'description' OR NOT v_keep THEN coalesce(cs->>'description', '') ELSE description END,
            domain_id = v_domain,
            owner_id = v_owner,
            tags = CASE WHEN cs ? 'tags' OR NOT v_keep
                        THEN ARRAY(SELECT DISTINCT jsonb_array_elements_text(coalesce(cs->'tags', '[]')) ORDER BY 1)
                        ELSE tags END,
            row_count = CASE WHEN cs->'operational' ? 'row_count' OR NOT v_keep THEN (cs->'operational'->>'row_count')::bigint ELSE row_count END,
            size_bytes = CASE WHEN cs->'operational' ? 'size_bytes' OR NOT v_keep THEN (cs->'operational'->>'size_bytes')::bigint ELSE size_bytes END,
            partition_keys = CASE WHEN cs->'operational' ? 'partition_keys' OR NOT v_keep
                                  THEN ARRAY(SELECT jsonb_array_elements_text(coalesce(cs->'operational'->'partition_keys', '[]')))
                                  ELSE partition_keys END,
            placeholder = false,
            version = version + 1,
            schema_version = schema_version + CASE WHEN v_new_version THEN 1 ELSE 0 END,
            updated_at = now()
        WHERE id = d.id RETURNING * INTO d;
    END IF;

    IF v_fields IS NOT NULL THEN
        DELETE FROM fields WHERE dataset_id = d.id;
        INSERT INTO fields (tenant_id, dataset_id, ordinal, name, type, nullable, description, tags)
        SELECT v_tenant, d.id, (nf->>'ordinal')::integer, nf->>'name', nf->>'type', (nf->>'nullable')::boolean,
               nf->>'description', ARRAY(SELECT jsonb_array_elements_text(nf->'tags'))
        FROM jsonb_array_elements(v_fields) nf;
        IF v_new_version THEN
            INSERT INTO dataset_versions (tenant_id, dataset_id, version, fields, breaking)
            VALUES (v_tenant, d.id, d.schema_version, v_fields,
                    v_prev IS NOT NULL AND (mf_schema_diff(v_prev, v_fields)->>'breaking')::boolean);
        END IF;
    END IF;

    IF cs ? 'upstream' OR NOT v_keep THEN
        v_touched := v_touched || mf_neighbours(d.id);
        FOR up IN SELECT * FROM jsonb_array_elements(coalesce(cs->'upstream', '[]')) LOOP
            IF up->>'namespace' = v_ns AND up->>'name' = v_name THEN
                PERFORM mf_raise('400', 'upstream must not contain the dataset itself');
            END IF;
            v_touched := v_touched || mf_ensure_dataset(up->>'namespace', up->>'name');
        END LOOP;
        PERFORM mf_lock_datasets(v_touched);
        IF NOT v_keep THEN
            DELETE FROM lineage_edges WHERE target_id = d.id;
        END IF;
        INSERT INTO lineage_edges (tenant_id, source_id, target_id)
        SELECT v_tenant, s.id, d.id
        FROM jsonb_array_elements(coalesce(cs->'upstream', '[]')) ref
        JOIN datasets s ON s.tenant_id = v_tenant AND s.namespace = ref->>'namespace' AND s.name = ref->>'name'
        ON CONFLICT (source_id, target_id) DO NOTHING;
    END IF;
    PERFORM mf_refresh_docs(v_touched || d.id);
    RETURN (SELECT doc FROM datasets WHERE id = d.id);
END
$$;

CREATE FUNCTION mf_delete_dataset(p_ns text, p_name text, p_if_match integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d datasets := mf_dataset_for_update(p_ns, p_name);
    v_neighbours uuid[] := mf_neighbours(d.id);
BEGIN
    PERFORM mf_check_if_match(d, p_if_match);
    PERFORM mf_lock_datasets(v_neighbours);
    DELETE FROM datasets WHERE id = d.id;
    PERFORM mf_refresh_docs(v_neighbours);
END
$$;

-- Add or remove a tag on a dataset (p_field NULL) or one of its fields; bumps the version.
CREATE FUNCTION mf_tag_dataset(p_ns text, p_name text, p_field text, p_tag text, p_add boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE d datasets := mf_dataset_for_update(p_ns, p_name);
        fld fields;
BEGIN
    IF p_field IS NULL THEN
        IF NOT p_add AND NOT p_tag = ANY (d.tags) THEN
            PERFORM mf_raise('404', format('tag "%s" is not on dataset %s/%s', p_tag, p_ns, p_name));
        END IF;
        UPDATE datasets SET tags = CASE WHEN p_add THEN ARRAY(SELECT DISTINCT unnest(tags || p_tag) ORDER BY 1)
                                        ELSE array_remove(tags, p_tag) END
        WHERE id = d.id;
    ELSE
        SELECT * INTO fld FROM fields WHERE dataset_id = d.id AND name = p_field FOR UPDATE;
        IF NOT FOUND THEN
            PERFORM mf_raise('404', format('field "%s" not found in dataset %s/%s', p_field, p_ns, p_name));
        END IF;
        IF NOT p_add AND NOT p_tag = ANY (fld.tags) THEN
            PERFORM mf_raise('404', format('tag "%s" is not on field "%s"', p_tag, p_field));
        END IF;
        UPDATE fields SET tags = CASE WHEN p_add THEN ARRAY(SELECT DISTINCT unnest(tags || p_tag) ORDER BY 1)
                                      ELSE array_remove(tags, p_tag) END
        WHERE dataset_id = d.id AND name = p_field;
    END IF;
    UPDATE datasets SET version = version + 1, updated_at = now() WHERE id = d.id RETURNING * INTO d;
    PERFORM mf_refresh_docs(ARRAY[d.id]);
    RETURN (SELECT doc FROM datasets WHERE id = d.id);
END
$$;

-- ---------- lineage ----------

CREATE FUNCTION mf_edge_doc(e lineage_edges) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id,
        'source', (SELECT mf_ref(namespace, name) FROM datasets WHERE id = e.source_id),
        'target', (SELECT mf_ref(namespace, name) FROM datasets WHERE id = e.target_id),
        'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object('source_field', c.source_field, 'target_field', c.target_field,
                                                                 'transformation', c.transformation, 'expression', c.expression)
                                              ORDER BY c.target_field, c.source_field), '[]')
                    FROM column_lineage c WHERE c.edge_id = e.id),
        'created_at', mf_ts(e.created_at))
$$;

-- Add (or merge into) the edge source -> target with optional column lineage.
-- Returns the edge document and whether it was created.
CREATE FUNCTION mf_add_edge(src jsonb, tgt jsonb, cols jsonb, OUT doc jsonb, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_src uuid;
    v_tgt uuid;
    e lineage_edges;
    c jsonb;
BEGIN
    IF src->>'namespace' = tgt->>'namespace' AND src->>'name' = tgt->>'name' THEN
        PERFORM mf_raise('400', 'source and target must be different datasets');
    END IF;
    v_src := mf_ensure_dataset(src->>'namespace', src->>'name');
    v_tgt := mf_ensure_dataset(tgt->>'namespace', tgt->>'name');
    PERFORM mf_lock_datasets(ARRAY[v_src, v_tgt]);
    INSERT INTO lineage_edges (tenant_id, source_id, target_id) VALUES (mf_current_tenant(), v_src, v_tgt)
    ON CONFLICT (source_id, target_id) DO NOTHING RETURNING * INTO e;
    created := FOUND;
    IF NOT created THEN
        SELECT * INTO e FROM lineage_edges WHERE source_id = v_src AND target_id = v_tgt;
    END IF;
    FOR c IN SELECT * FROM jsonb_array_elements(coalesce(cols, '[]')) LOOP
        INSERT INTO column_lineage (tenant_id, edge_id, source_field, target_field, transformation, expression)
        VALUES (mf_current_tenant(), e.id, c->>'source_field', c->>'target_field',
                coalesce(c->>'transformation', ''), coalesce(c->>'expression', ''))
        ON CONFLICT (edge_id, source_field, target_field)
        DO UPDATE SET transformation = EXCLUDED.transformation, expression = EXCLUDED.expression;
    END LOOP;
    UPDATE datasets SET version = version + 1, updated_at = now() WHERE id IN (v_src, v_tgt);
    PERFORM mf_refresh_docs(ARRAY[v_src, v_tgt]);
    doc := mf_edge_doc(e);
END
$$;

-- Remove an edge; both ends change (their documents list each other). False when absent.
CREATE FUNCTION mf_delete_edge(p_id uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE e lineage_edges;
BEGIN
    SELECT * INTO e FROM lineage_edges WHERE tenant_id = mf_current_tenant() AND id = p_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM mf_lock_datasets(ARRAY[e.source_id, e.target_id]);
    DELETE FROM lineage_edges WHERE id = p_id RETURNING * INTO e;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE datasets SET version = version + 1, updated_at = now() WHERE id IN (e.source_id, e.target_id);
    PERFORM mf_refresh_docs(ARRAY[e.source_id, e.target_id]);
    RETURN true;
END
$$;

-- Remove a domain or an owner; the datasets that named it keep none (and their documents say so).
CREATE FUNCTION mf_delete_domain(p_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE v_id uuid;
        v_ids uuid[];
BEGIN
    SELECT id INTO v_id FROM domains WHERE tenant_id = mf_current_tenant() AND name = p_name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM datasets WHERE domain_id = v_id;
    DELETE FROM domains WHERE id = v_id;
    PERFORM mf_refresh_docs(v_ids);
    RETURN true;
END
$$;

CREATE FUNCTION mf_delete_owner(p_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE v_id uuid;
        v_ids uuid[];
BEGIN
    SELECT id INTO v_id FROM owners WHERE tenant_id = mf_current_tenant() AND name = p_name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM datasets WHERE owner_id = v_id;
    DELETE FROM owners WHERE id = v_id;
    PERFORM mf_refresh_docs(v_ids);
    RETURN true;
END
$$;

-- ---------- glossary ----------

CREATE FUNCTION mf_term_doc(t glossary_terms) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', t.id, 'name', t.name, 'definition', t.definition, 'status', t.status,
        'links', (SELECT coalesce(jsonb_agg(jsonb_build_object('namespace', d.namespace, 'dataset', d.name,
                                                               'field', nullif(l.field_name, ''))
                                            ORDER BY d.namespace, d.name, l.field_name), '[]')
                  FROM glossary_links l JOIN datasets d ON d.id = l.dataset_id WHERE l.term_id = t.id),
        'created_at', mf_ts(t.created_at), 'updated_at', mf_ts(t.updated_at))
$$;

CREATE FUNCTION mf_term_for_update(p_name text) RETURNS glossary_terms
LANGUAGE plpgsql AS $$
DECLARE t glossary_terms;
BEGIN
    SELECT * INTO t FROM glossary_terms WHERE tenant_id = mf_current_tenant() AND name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', format('glossary term "%s" not found', p_name));
    END IF;
    RETURN t;
END
$$;

CREATE FUNCTION mf_link_term(p_term text, p_ns text, p_dataset text, p_field text, p_add boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t glossary_terms := mf_term_for_update(p_term);
    v_ds uuid;
BEGIN
    SELECT id INTO v_ds FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = p_ns AND name = p_dataset;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', format('dataset %s/%s not found', p_ns, p_dataset));
    END IF;
    IF p_field IS NOT NULL AND NOT EXISTS (SELECT 1 FROM fields WHERE dataset_id = v_ds AND name = p_field) THEN
        PERFORM mf_raise('404', format('field "%s" not found in dataset %s/%s', p_field, p_ns, p_dataset));
    END IF;
    IF p_add THEN
        INSERT INTO glossary_links (tenant_id, term_id, dataset_id, field_name)
        VALUES (mf_current_tenant(), t.id, v_ds, coalesce(p_field, '')) ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM glossary_links WHERE term_id = t.id AND dataset_id = v_ds AND field_name = coalesce(p_field, '');
        IF NOT FOUND THEN
            PERFORM mf_raise('404', 'no such link');
        END IF;
    END IF;
    UPDATE glossary_terms SET updated_at = now() WHERE id = t.id RETURNING * INTO t;
    RETURN mf_term_doc(t);
END
$$;
