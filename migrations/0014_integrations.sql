-- 0014_integrations: what the dbt, Great Expectations, Iceberg and Delta
-- imports (libshared/include/mf/integrations.h) need from the write path.
--
-- Revisions. A table format keeps its own history (Iceberg's schemas, Delta's
-- schema changes); an import replays it as change sets carrying "revision",
-- one per past state, before the change set of the current state. The
-- revisions applied to a dataset are recorded here, so a re-import skips them
-- and only what the table gained since becomes a new schema version. Onto a
-- dataset that existed before the event without any revision (other sources
-- wrote it), past states are recorded without being applied: history cannot
-- be inserted behind the versions the dataset already has.
--
-- mf_apply_event (0003) keeps its body under the name mf_apply_event_changes;
-- mf_apply_event is now the thin wrapper that settles revisions first (and
-- lets a re-imported run replace its earlier quality results), so the worker
-- (mf_apply_events) and the API (mf_integration_apply) go through it alike.
--
-- mf_integration_apply: one API import, all of its events in the request's
-- transaction, with the caller's access (scoped keys are refused by the
-- 0007 triggers where they may not write, and then nothing is written), a
-- summary of what changed, an audit row; with p_dry_run the same work is
-- done and rolled back (a subtransaction), so the summary says exactly what
-- would change.

CREATE TABLE dataset_revisions (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    revision   text NOT NULL,
    applied    boolean NOT NULL, -- false: recorded only (the dataset had a history of its own)
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, revision)
);

SELECT mf_enable_tenant_isolation(ARRAY['dataset_revisions']);
GRANT SELECT, INSERT, DELETE ON dataset_revisions TO mf_app;
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON dataset_revisions
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE POLICY caller_scope ON dataset_revisions AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_revisions.dataset_id));

ALTER FUNCTION mf_apply_event(jsonb) RENAME TO mf_apply_event_changes;

/*
 * Apply one ingest event (see 0003): revised change sets first settled
 * against dataset_revisions (decided on the state before the event), the
 * rest through mf_apply_event_changes.
 */
CREATE FUNCTION mf_apply_event(ev jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cs jsonb;
    kept jsonb := '[]';
    v_ds uuid;
    v_key text;
    v_replay jsonb := '{}'; -- "<namespace>\n<name>" -> may past states be applied to it
    v_revs jsonb := '[]';   -- the revisions to record: [{namespace, name, revision, applied}]
    v_summary jsonb;
BEGIN
    IF ev->>'source' IN ('dbt', 'great_expectations') AND jsonb_typeof(ev->'run') = 'object' THEN
        -- the same run imported again: its quality results are replaced, not doubled
        DELETE FROM dataset_quality WHERE tenant_id = mf_current_tenant() AND run_id = (ev->'run'->>'run_id')::uuid;
    END IF;
    IF jsonb_typeof(ev->'datasets') <> 'array' OR NOT jsonb_path_exists(ev->'datasets', '$[*].revision') THEN
        RETURN mf_apply_event_changes(ev);
    END IF;
    FOR cs IN SELECT * FROM jsonb_array_elements(ev->'datasets') LOOP
        IF NOT cs ? 'revision' THEN
            kept := kept || jsonb_build_array(cs);
            CONTINUE;
        END IF;
        SELECT id INTO v_ds FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = cs->>'namespace'
                                            AND name = cs->>'name' AND NOT placeholder;
        CONTINUE WHEN v_ds IS NOT NULL AND EXISTS (SELECT 1 FROM dataset_revisions r WHERE r.dataset_id = v_ds
                                                                                     AND r.revision = cs->>'revision');
        v_key := (cs->>'namespace') || E'\n' || (cs->>'name');
        IF NOT v_replay ? v_key THEN
            v_replay := v_replay || jsonb_build_object(v_key, v_ds IS NULL OR EXISTS (
                SELECT 1 FROM dataset_revisions r WHERE r.dataset_id = v_ds AND r.applied));
        END IF;
        v_revs := v_revs || jsonb_build_object('namespace', cs->'namespace', 'name', cs->'name',
                                               'revision', cs->'revision', 'applied', v_replay->v_key);
        IF (v_replay->>v_key)::boolean THEN
            kept := kept || jsonb_build_array(cs - 'revision');
        END IF;
    END LOOP;
    v_summary := mf_apply_event_changes(jsonb_set(ev, '{datasets}', kept));
    INSERT INTO dataset_revisions (tenant_id, dataset_id, revision, applied)
    SELECT mf_current_tenant(), mf_ensure_dataset(x->>'namespace', x->>'name'), x->>'revision', (x->>'applied')::boolean
    FROM jsonb_array_elements(v_revs) x
    ON CONFLICT DO NOTHING;
    RETURN v_summary;
END
$$;

-- What the current transaction changed in the caller's catalog (rows stamped now(), the transaction's start).
CREATE FUNCTION mf_integration_summary() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'datasets_created', (SELECT count(*) FROM datasets WHERE tenant_id = mf_current_tenant()
                               AND created_at = now() AND NOT placeholder),
        'datasets_updated', (SELECT count(*) FROM datasets WHERE tenant_id = mf_current_tenant()
                               AND updated_at = now() AND created_at < now() AND NOT placeholder),
        'placeholders_created', (SELECT count(*) FROM datasets WHERE tenant_id = mf_current_tenant()
                                   AND created_at = now() AND placeholder),
        'schema_versions', (SELECT count(*) FROM dataset_versions WHERE tenant_id = mf_current_tenant()
                              AND created_at = now()),
        'lineage_edges', (SELECT count(*) FROM lineage_edges WHERE tenant_id = mf_current_tenant() AND created_at = now()),
        'quality_results', (SELECT count(*) FROM dataset_quality WHERE tenant_id = mf_current_tenant() AND at = now()),
        'datasets', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'namespace', namespace, 'name', name,
                                'action', CASE WHEN created_at = now() THEN 'created' ELSE 'updated' END,
                                'version', version, 'schema_version', schema_version) ORDER BY namespace, name), '[]')
                     FROM (SELECT * FROM datasets WHERE tenant_id = mf_current_tenant() AND updated_at = now()
                             AND NOT placeholder ORDER BY namespace, name LIMIT 1000) d))
$$;

/*
 * Apply an import's events (a JSON array of ingest events) for the current
 * tenant with the caller's access; returns mf_integration_summary() plus
 * "dry_run" and "runs" (the runs recorded). A dry run rolls its work back
 * before returning.
 */
CREATE FUNCTION mf_integration_apply(p_events jsonb, p_source text, p_dry_run boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    ev jsonb;
    v_out jsonb;
BEGIN
    IF mf_current_tenant() IS NULL THEN
        PERFORM mf_raise('403', 'an import writes into a tenant: use one of its credentials');
    END IF;
    IF jsonb_typeof(p_events) <> 'array' THEN
        PERFORM mf_raise('400', 'an import is an array of events');
    END IF;
    IF NOT mf_access_unscoped() THEN
        -- jobs and runs belong to the whole tenant (0007): a scoped caller's import records its
        -- datasets and quality results, not the run that produced them
        p_events := (SELECT coalesce(jsonb_agg(e - 'job' - 'run'), '[]') FROM jsonb_array_elements(p_events) e);
    END IF;
    BEGIN
        FOR ev IN SELECT * FROM jsonb_array_elements(p_events) LOOP
            PERFORM mf_apply_event(ev);
        END LOOP;
        v_out := mf_integration_summary();
        IF p_dry_run THEN
            RAISE EXCEPTION 'dry run' USING ERRCODE = 'MFDRY';
        END IF;
    EXCEPTION WHEN SQLSTATE 'MFDRY' THEN
        NULL; -- the work is undone; v_out keeps what it would have been
    END;
    v_out := v_out || jsonb_build_object('dry_run', p_dry_run, 'runs',
        (SELECT count(*) FROM jsonb_array_elements(p_events) e WHERE jsonb_typeof(e->'run') = 'object'));
    IF NOT p_dry_run THEN
        PERFORM mf_audit_event(mf_current_tenant(), 'integration.import', p_source,
                               (v_out - 'datasets') || jsonb_build_object('source', p_source));
    END IF;
    RETURN v_out;
END
$$;
