-- 0020_contract_history: data contracts judge what a dataset is now, not
-- the history an import replays.
--
-- An Iceberg or Delta import replays a table's past schemas as change sets
-- carrying "revision" (0014) before its current one. Judged like any write,
-- a past schema without a column a block contract now requires would refuse
-- the whole import, though the table has had the column for long. So the
-- revision stays on the change set down to mf_apply_dataset, which applies a
-- past state without judging it (0016); the current state (no revision) is
-- judged like any write, also at mf-ingest's intake.
--
-- The function is 0014's mf_apply_event (renamed mf_apply_event_revisions
-- by 0017) with that one change: "revision" is no longer taken off the
-- change sets it keeps.

CREATE OR REPLACE FUNCTION mf_apply_event_revisions(ev jsonb) RETURNS jsonb
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
            kept := kept || jsonb_build_array(cs); -- "revision" kept: mf_apply_dataset takes it off
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
