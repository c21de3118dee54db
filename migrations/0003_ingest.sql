-- 0003_ingest: what pipelines report: ingest event records (exactly-once
-- application), failures, jobs and runs, quality facts, raw facets, catalog
-- events (breaking schema changes for notifications), and mf_apply_events,
-- the worker's entry into the one write path.

CREATE TABLE jobs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    namespace   text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    sql         text NOT NULL DEFAULT '',
    facets      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, namespace, name)
);

CREATE TABLE runs (
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id        uuid NOT NULL,
    job_id        uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    state         text NOT NULL CHECK (state IN ('START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER')),
    event_time    timestamptz NOT NULL,
    started_at    timestamptz,
    ended_at      timestamptz,
    nominal_start timestamptz,
    nominal_end   timestamptz,
    parent_run_id uuid,
    error_message text,
    inputs        jsonb NOT NULL DEFAULT '[]',
    outputs       jsonb NOT NULL DEFAULT '[]',
    facets        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, run_id)
);
CREATE INDEX runs_job ON runs (job_id, event_time DESC);

ALTER TABLE lineage_edges ADD COLUMN job_id uuid REFERENCES jobs(id) ON DELETE SET NULL;

CREATE TABLE dataset_quality (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    run_id     uuid,
    metrics    jsonb,
    assertions jsonb,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dataset_quality_dataset ON dataset_quality (dataset_id, id DESC);

-- Something notifications will deliver (breaking schema changes first).
CREATE TABLE catalog_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind       text NOT NULL,
    dataset_id uuid REFERENCES datasets(id) ON DELETE SET NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_events_tenant ON catalog_events (tenant_id, id);

-- Every applied event, once: the primary key makes a redelivered event a no-op.
CREATE TABLE ingest_events (
    event_id    uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    source      text NOT NULL,
    received_at timestamptz NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    summary     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ingest_events_tenant ON ingest_events (tenant_id, applied_at);

CREATE TABLE ingest_failures (
    event_id    uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    source      text NOT NULL DEFAULT '',
    received_at timestamptz,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL,
    reason      text NOT NULL,
    event       jsonb NOT NULL
);
CREATE INDEX ingest_failures_tenant ON ingest_failures (tenant_id, failed_at, event_id);

SELECT mf_enable_tenant_isolation(ARRAY['jobs', 'runs', 'dataset_quality', 'catalog_events', 'ingest_events',
                                        'ingest_failures']);
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION mf_audit_row('job');

GRANT SELECT, INSERT, UPDATE, DELETE ON jobs, runs, dataset_quality, catalog_events, ingest_events,
    ingest_failures TO mf_app;

-- Breaking schema versions become catalog events.
CREATE FUNCTION mf_version_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE prev jsonb;
BEGIN
    IF NEW.breaking THEN
        SELECT fields INTO prev FROM dataset_versions WHERE dataset_id = NEW.dataset_id AND version = NEW.version - 1;
        INSERT INTO catalog_events (tenant_id, kind, dataset_id, detail)
        VALUES (NEW.tenant_id, 'schema.breaking', NEW.dataset_id,
                jsonb_build_object('from', NEW.version - 1, 'to', NEW.version) || mf_schema_diff(prev, NEW.fields));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER catalog_event AFTER INSERT ON dataset_versions FOR EACH ROW EXECUTE FUNCTION mf_version_event();

CREATE FUNCTION mf_job_id(p_ref jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE v_id uuid;
BEGIN
    IF p_ref IS NULL OR jsonb_typeof(p_ref) <> 'object' THEN
        RETURN NULL;
    END IF;
    INSERT INTO jobs (tenant_id, namespace, name) VALUES (mf_current_tenant(), p_ref->>'namespace', p_ref->>'name')
    ON CONFLICT (tenant_id, namespace, name) DO NOTHING RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT id INTO v_id FROM jobs WHERE tenant_id = mf_current_tenant() AND namespace = p_ref->>'namespace'
                                        AND name = p_ref->>'name';
    END IF;
    RETURN v_id;
END
$$;

/*
 * Apply one ingest event (libshared/include/mf/ingest.h) for the current
 * tenant; returns what changed: {"datasets":[{namespace,name,version,schema_version}],
 * "lineage_edges":N,"job":ref|null,"run":{run_id,state}|null}.
 */
CREATE FUNCTION mf_apply_event(ev jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cs jsonb;
    v_doc jsonb;
    v_ids uuid[] := '{}';      -- the datasets the event wrote, for the summary
    v_renamed uuid[] := '{}';
    v_job uuid;
    e jsonb;
    edge record;
    n_edges integer := 0;
    r jsonb := ev->'run';
    lc jsonb;
    q jsonb;
    v_ds uuid;
BEGIN
    IF ev->'job' IS NOT NULL AND jsonb_typeof(ev->'job') = 'object' THEN
        v_job := mf_job_id(ev->'job');
        UPDATE jobs SET description = coalesce(ev->'job'->>'description', description),
                        sql = coalesce(ev->'job'->>'sql', sql),
                        facets = facets || coalesce(ev->'job'->'facets', '{}'),
                        updated_at = now()
        WHERE id = v_job;
    END IF;

    -- RENAME first, so the new name continues the old dataset (history, tags, links)
    FOR lc IN SELECT * FROM jsonb_array_elements(coalesce(ev->'lifecycle', '[]')) LOOP
        CONTINUE WHEN lc->>'change' <> 'RENAME' OR NOT lc ? 'new_name';
        SELECT id INTO v_ds FROM datasets WHERE tenant_id = mf_current_tenant()
          AND namespace = lc->'dataset'->>'namespace' AND name = lc->'dataset'->>'name';
        CONTINUE WHEN v_ds IS NULL OR EXISTS (SELECT 1 FROM datasets WHERE tenant_id = mf_current_tenant()
                                                AND namespace = lc->'new_name'->>'namespace' AND name = lc->'new_name'->>'name');
        PERFORM mf_lock_datasets(v_ds || mf_neighbours(v_ds));
        PERFORM mf_ensure_namespace(lc->'new_name'->>'namespace');
        UPDATE datasets SET namespace = lc->'new_name'->>'namespace', name = lc->'new_name'->>'name',
                            version = version + 1, updated_at = now()
        WHERE id = v_ds;
        PERFORM mf_refresh_docs(v_ds || mf_neighbours(v_ds));
        v_renamed := v_renamed || v_ds;
    END LOOP;

    FOR cs IN SELECT * FROM jsonb_array_elements(coalesce(ev->'datasets', '[]')) LOOP
        IF (cs - 'namespace' - 'name' - 'facets') = '{}' AND ev->>'source' = 'openlineage'
           AND ev->'run'->'inputs' @> jsonb_build_array(jsonb_build_object('namespace', cs->'namespace', 'name', cs->'name'))
           AND NOT ev->'run'->'outputs' @> jsonb_build_array(jsonb_build_object('namespace', cs->'namespace', 'name', cs->'name')) THEN
            -- a run's input known only by name: a placeholder when new, else untouched
            v_ds := mf_ensure_dataset(cs->>'namespace', cs->>'name');
        ELSE
            v_doc := mf_apply_dataset(cs - 'facets', 'merge', NULL);
            v_ds := (v_doc->>'id')::uuid;
        END IF;
        IF cs ? 'facets' AND cs->'facets' <> '{}' THEN
            UPDATE datasets SET facets = facets || (cs->'facets') WHERE id = v_ds;
            PERFORM mf_refresh_docs(ARRAY[v_ds]);
        END IF;
        v_ids := v_ids || v_ds;
    END LOOP;

    FOR e IN SELECT * FROM jsonb_array_elements(coalesce(ev->'lineage', '[]')) LOOP
        SELECT * INTO edge FROM mf_add_edge(e->'source', e->'target', e->'columns');
        IF e->'job' IS NOT NULL AND jsonb_typeof(e->'job') = 'object' THEN
            UPDATE lineage_edges SET job_id = mf_job_id(e->'job') WHERE id = (edge.doc->>'id')::uuid;
        END IF;
        n_edges := n_edges + 1;
    END LOOP;

    IF r IS NOT NULL AND jsonb_typeof(r) = 'object' THEN
        IF v_job IS NULL THEN
            PERFORM mf_raise('400', 'run needs a job');
        END IF;
        INSERT INTO runs AS x (tenant_id, run_id, job_id, state, event_time, started_at, ended_at, nominal_start,
                               nominal_end, parent_run_id, error_message, inputs, outputs, facets)
        VALUES (mf_current_tenant(), (r->>'run_id')::uuid, v_job, coalesce(r->>'state', 'OTHER'),
                coalesce((r->>'event_time')::timestamptz, now()),
                coalesce((r->>'started_at')::timestamptz,
                         CASE WHEN r->>'state' IN ('START', 'RUNNING') THEN coalesce((r->>'event_time')::timestamptz, now()) END),
                coalesce((r->>'ended_at')::timestamptz,
                         CASE WHEN r->>'state' IN ('COMPLETE', 'ABORT', 'FAIL') THEN coalesce((r->>'event_time')::timestamptz, now()) END),
                (r->>'nominal_start')::timestamptz, (r->>'nominal_end')::timestamptz,
                (r->'parent'->>'run_id')::uuid, r->>'error_message',
                coalesce(r->'inputs', '[]'), coalesce(r->'outputs', '[]'), coalesce(r->'facets', '{}'))
        ON CONFLICT (tenant_id, run_id) DO UPDATE SET
            state = CASE WHEN EXCLUDED.event_time >= x.event_time THEN EXCLUDED.state ELSE x.state END,
            event_time = greatest(x.event_time, EXCLUDED.event_time),
            started_at = coalesce(least(x.started_at, EXCLUDED.started_at), x.started_at, EXCLUDED.started_at),
            ended_at = coalesce(EXCLUDED.ended_at, x.ended_at),
            nominal_start = coalesce(EXCLUDED.nominal_start, x.nominal_start),
            nominal_end = coalesce(EXCLUDED.nominal_end, x.nominal_end),
            parent_run_id = coalesce(EXCLUDED.parent_run_id, x.parent_run_id),
            error_message = coalesce(EXCLUDED.error_message, x.error_message),
            inputs = CASE WHEN EXCLUDED.inputs = '[]' THEN x.inputs ELSE EXCLUDED.inputs END,
            outputs = CASE WHEN EXCLUDED.outputs = '[]' THEN x.outputs ELSE EXCLUDED.outputs END,
            facets = x.facets || EXCLUDED.facets;
    END IF;

    -- DROP (and a RENAME whose new name already existed) after the datasets were written
    FOR lc IN SELECT * FROM jsonb_array_elements(coalesce(ev->'lifecycle', '[]')) LOOP
        CONTINUE WHEN lc->>'change' NOT IN ('DROP', 'RENAME');
        SELECT id INTO v_ds FROM datasets WHERE tenant_id = mf_current_tenant()
          AND namespace = lc->'dataset'->>'namespace' AND name = lc->'dataset'->>'name';
        CONTINUE WHEN v_ds IS NULL OR (lc->>'change' = 'RENAME' AND v_ds = ANY (v_renamed));
        UPDATE datasets SET lifecycle = 'dropped', version = version + 1, updated_at = now() WHERE id = v_ds;
        PERFORM mf_refresh_docs(v_ds || mf_neighbours(v_ds));
    END LOOP;

    FOR q IN SELECT * FROM jsonb_array_elements(coalesce(ev->'quality', '[]')) LOOP
        v_ds := mf_ensure_dataset(q->'dataset'->>'namespace', q->'dataset'->>'name');
        INSERT INTO dataset_quality (tenant_id, dataset_id, run_id, metrics, assertions)
        VALUES (mf_current_tenant(), v_ds, (r->>'run_id')::uuid, q->'metrics', q->'assertions');
    END LOOP;

    RETURN jsonb_build_object(
        'datasets', (SELECT coalesce(jsonb_agg(jsonb_build_object('namespace', namespace, 'name', name, 'version', version,
                                                                  'schema_version', schema_version) ORDER BY o), '[]')
                     FROM unnest(v_ids) WITH ORDINALITY AS x(id, o) JOIN datasets USING (id)),
        'lineage_edges', n_edges,
                              'job', CASE WHEN v_job IS NOT NULL THEN (ev->'job') - 'facets' - 'sql' - 'description' END,
                              'run', CASE WHEN r IS NOT NULL THEN jsonb_build_object('run_id', r->'run_id', 'state', r->'state') END);
END
$$;

/*
 * The worker's batch: each event in its own subtransaction (so one bad event
 * does not undo the others) under its own tenant. Returns one row per event:
 * applied (with the summary), duplicate (already applied), or error (why).
 */
CREATE FUNCTION mf_apply_events(evs jsonb)
RETURNS TABLE (event_id text, status text, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ev jsonb;
    v_summary jsonb;
BEGIN
    FOR ev IN SELECT * FROM jsonb_array_elements(evs) LOOP
        event_id := ev->>'event_id';
        BEGIN
            PERFORM set_config('mf.tenant_id', ev->>'tenant_id', true),
                    set_config('mf.actor', coalesce(ev->>'actor', ''), true),
                    set_config('mf.request_id', coalesce(ev->>'request_id', ''), true),
                    set_config('mf.client_addr', '', true);
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

-- Record an event that kept failing (the worker also moves it to the dead-letter stream).
CREATE FUNCTION mf_record_ingest_failure(ev jsonb, p_attempts integer, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('mf.tenant_id', ev->>'tenant_id', true);
    INSERT INTO ingest_failures (event_id, tenant_id, source, received_at, attempts, reason, event)
    VALUES ((ev->>'event_id')::uuid, (ev->>'tenant_id')::uuid, coalesce(ev->>'source', ''),
            (ev->>'received_at')::timestamptz, p_attempts, p_reason, ev)
    ON CONFLICT (event_id) DO UPDATE SET attempts = EXCLUDED.attempts, reason = EXCLUDED.reason, failed_at = now();
END
$$;
