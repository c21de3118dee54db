-- 0021_write_speed: what every dataset write paid for in proportion to the
-- tenant's size, or waited for behind the tenant's other writers.
--
-- 1. mf_classify_direct (0017) filtered the fields, findings and suggested
--    classes of the datasets written with "p_datasets IS NULL OR dataset_id IN
--    (...)": one plan for both cases, which reads every field of the tenant
--    (once per name rule). At 22,500 fields that was 19 ms of each create,
--    growing with the tenant. The datasets are now always a list (the whole
--    tenant's when NULL), matched with = ANY, which the indexes on dataset_id
--    answer.
CREATE OR REPLACE FUNCTION mf_classify_direct(p_tenant uuid, p_datasets uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids uuid[] := coalesce(p_datasets, ARRAY(SELECT id FROM datasets WHERE tenant_id = p_tenant));
BEGIN
    WITH desired AS (
        SELECT f.dataset_id, f.name AS field_name, r.class, r.sensitivity, 'rule' AS source, r.id AS rule_id,
               NULL::jsonb AS via, 1 AS prio
        FROM fields f
        JOIN classification_rules r ON r.tenant_id = p_tenant AND r.kind = 'name' AND r.enabled AND f.name ~* r.pattern
        WHERE f.tenant_id = p_tenant AND f.dataset_id = ANY (v_ids)
        UNION ALL
        SELECT x.dataset_id, x.field_name, r.class, r.sensitivity, 'value', r.id,
               jsonb_build_object('matched', x.matched, 'sampled', x.sampled), 0
        FROM classification_findings x
        JOIN classification_rules r ON r.id = x.rule_id AND r.enabled AND x.matched >= r.threshold * x.sampled
        WHERE x.tenant_id = p_tenant AND x.dataset_id = ANY (v_ids)),
    best AS (
        SELECT DISTINCT ON (dataset_id, field_name, class) * FROM desired
        ORDER BY dataset_id, field_name, class, prio, sensitivity DESC, rule_id),
    gone AS (
        DELETE FROM field_classifications c
        WHERE c.tenant_id = p_tenant AND c.dataset_id = ANY (v_ids)
          AND c.status = 'suggested' AND c.source IN ('rule', 'value')
          -- NOT IN (a hashed subplan): the planner cannot estimate best, and an anti join would loop
          AND (c.dataset_id, c.field_name, c.class) NOT IN (SELECT b.dataset_id, b.field_name, b.class FROM best b))
    INSERT INTO field_classifications AS c (tenant_id, dataset_id, field_name, class, sensitivity, source, status,
                                            rule_id, via)
    SELECT p_tenant, b.dataset_id, b.field_name, b.class, b.sensitivity, b.source, 'suggested', b.rule_id, b.via
    FROM best b
    ON CONFLICT (dataset_id, field_name, class) DO UPDATE SET
        sensitivity = EXCLUDED.sensitivity, source = EXCLUDED.source, status = 'suggested', rule_id = EXCLUDED.rule_id,
        via = EXCLUDED.via, may_be_anonymised = false, depth = 0, updated_at = now()
    WHERE c.status = 'suggested' AND (c.source, c.sensitivity, c.rule_id, c.via, c.depth)
                                     IS DISTINCT FROM (EXCLUDED.source, EXCLUDED.sensitivity, EXCLUDED.rule_id,
                                                       EXCLUDED.via, 0)
       OR (c.status = 'rejected' AND c.rule_id IS NOT NULL AND c.rule_id <> EXCLUDED.rule_id
           AND c.source <> 'person');
END
$$;
REVOKE ALL ON FUNCTION mf_classify_direct(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_classify_direct(uuid, uuid[]) TO mf_app;

-- 2. max_datasets (0013) was checked after each statement that inserted
--    datasets, under a per-tenant lock held until commit, with a count(*) of
--    the tenant's datasets: every creator of a tenant waited for the whole
--    rest of the transaction before it (classification, search index, audit,
--    commit), and the count grew with the tenant. Concurrent creates of one
--    tenant ran at about 30 a second.
--
--    Now a counter per tenant holds its datasets. A statement that inserts
--    datasets only notes how many, per tenant, in the transaction-local
--    mf.datasets_added; a deferred trigger adds them to the counters at
--    commit and refuses the transaction when one goes past the limit. The
--    counter's row lock is what orders concurrent creators, and it is held
--    only from there to the end of the commit; each sees the others' committed
--    rows, so the limit stays exact. Deletes take their datasets off the
--    counter at once (rarer, and they never refuse).
--
--    mf_apply_events checks each event's datasets at the end of the event, so
--    one event past the limit fails alone, as before.
--
-- 3. The search index (0008) rebuilt a dataset's rows after every statement
--    that changed it: twice for a create (the dataset, then its fields), and
--    once per event for the worker's batch of 256. The changed datasets are
--    now noted and rebuilt once, together, at commit: 3.4 ms a dataset alone,
--    0.9 ms in a batch of 200. What a transaction reads of the index is what
--    committed before it; nothing reads the index in the transaction that
--    writes.
--
-- 4. mf_contract_check_write (0016) built the dataset's schema document and
--    evaluated the contracts on every write; a tenant without a contract
--    that judges schemas (most) now skips both.
CREATE TABLE tenant_dataset_counts (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    datasets  bigint NOT NULL
);
REVOKE ALL ON tenant_dataset_counts FROM PUBLIC;
-- only the owner's trigger functions below touch it (the owner is not subject to RLS); isolated all the same
SELECT mf_enable_tenant_isolation(ARRAY['tenant_dataset_counts']);

-- counted while no dataset is added or removed
LOCK TABLE datasets IN SHARE MODE;
INSERT INTO tenant_dataset_counts (tenant_id, datasets)
SELECT tenant_id, count(*) FROM datasets GROUP BY tenant_id;

-- The statement trigger of 0013 (datasets_quota) keeps its name and now only notes.
CREATE OR REPLACE FUNCTION mf_datasets_within_quota() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_added jsonb := coalesce(nullif(current_setting('mf.datasets_added', true), ''), '{}')::jsonb;
    t record;
BEGIN
    FOR t IN SELECT tenant_id::text AS tenant, count(*) AS n FROM new_datasets GROUP BY tenant_id LOOP
        v_added := v_added || jsonb_build_object(t.tenant, coalesce((v_added->>t.tenant)::bigint, 0) + t.n);
    END LOOP;
    PERFORM set_config('mf.datasets_added', v_added::text, true);
    RETURN NULL;
END
$$;

/*
 * At commit (or at the end of an ingest event): the noted datasets go onto
 * their tenants' counters, in tenant order (two committing transactions lock
 * counters in the same order), each checked against the tenant's limit. The
 * first row event of the transaction does it all; the others find nothing
 * noted.
 */
CREATE FUNCTION mf_datasets_quota_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_added text := coalesce(current_setting('mf.datasets_added', true), '');
    t record;
    v_total bigint;
    v_limit bigint;
BEGIN
    IF v_added IN ('', '{}') THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('mf.datasets_added', '{}', true);
    -- at commit, the rest of the commit's work first (the search index), so that the counter's
    -- lock is held for the commit alone; not at the end of an ingest event (the batch's rows
    -- are indexed together at its commit)
    IF coalesce(current_setting('mf.quota_at_event_end', true), '') <> 'on' THEN
        PERFORM mf_search_flush();
    END IF;
    FOR t IN SELECT key::uuid AS tenant, value::bigint AS n FROM jsonb_each_text(v_added::jsonb) ORDER BY key LOOP
        INSERT INTO tenant_dataset_counts AS c (tenant_id, datasets) VALUES (t.tenant, t.n)
        ON CONFLICT (tenant_id) DO UPDATE SET datasets = c.datasets + EXCLUDED.datasets
        RETURNING datasets INTO v_total;
        v_limit := (mf_tenant_limits_doc(t.tenant)->>'max_datasets')::bigint;
        IF v_total > v_limit THEN
            PERFORM mf_quota_refuse('max_datasets', v_limit, 'datasets');
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mf_datasets_quota_at_commit() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER datasets_quota_at_commit AFTER INSERT ON datasets
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mf_datasets_quota_at_commit();

CREATE FUNCTION mf_datasets_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tenant_dataset_counts c SET datasets = c.datasets - o.n
    FROM (SELECT tenant_id, count(*) AS n FROM old_datasets GROUP BY tenant_id) o
    WHERE c.tenant_id = o.tenant_id;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mf_datasets_removed() FROM PUBLIC;
CREATE TRIGGER datasets_removed AFTER DELETE ON datasets REFERENCING OLD TABLE AS old_datasets
    FOR EACH STATEMENT EXECUTE FUNCTION mf_datasets_removed();

-- mf_apply_events (0007) with the check of each event's datasets at the end of the event.
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
                -- this event's datasets against max_datasets now, so an event past it fails alone
                PERFORM set_config('mf.quota_at_event_end', 'on', true);
                SET CONSTRAINTS datasets_quota_at_commit IMMEDIATE;
                SET CONSTRAINTS datasets_quota_at_commit DEFERRED;
                PERFORM set_config('mf.quota_at_event_end', '', true);
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

-- The datasets whose search rows the current transaction must rebuild. Rows live only within their
-- transaction; unlogged, as a crash loses the transaction anyway.
CREATE UNLOGGED TABLE search_pending (
    xact       xid8 NOT NULL,
    dataset_id uuid NOT NULL,
    PRIMARY KEY (xact, dataset_id)
);
REVOKE ALL ON search_pending FROM PUBLIC;
-- only the owner's trigger functions below touch it (the owner is not subject to RLS); no policy: no one else
ALTER TABLE search_pending ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION mf_search_note(p_ids uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO search_pending (xact, dataset_id)
    SELECT pg_current_xact_id(), id FROM unnest(p_ids) id WHERE id IS NOT NULL
    ON CONFLICT DO NOTHING
$$;
REVOKE ALL ON FUNCTION mf_search_note(uuid[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION mf_search_datasets_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM mf_search_note(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION mf_search_rows_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE ids uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT dataset_id) INTO ids FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT dataset_id) INTO ids FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT x) INTO ids FROM (SELECT dataset_id x FROM new_rows UNION SELECT dataset_id FROM old_rows) y;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM mf_search_note(ids);
    END IF;
    RETURN NULL;
END
$$;

-- Rebuild every dataset the transaction noted so far, at once.
CREATE FUNCTION mf_search_flush() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE ids uuid[];
BEGIN
    WITH taken AS (DELETE FROM search_pending WHERE xact = pg_current_xact_id() RETURNING dataset_id)
    SELECT array_agg(dataset_id ORDER BY dataset_id) INTO ids FROM taken;
    IF ids IS NOT NULL THEN
        PERFORM mf_search_index_datasets(ids);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mf_search_flush() FROM PUBLIC;

-- At commit: the first row event rebuilds every noted dataset; the others find none left.
CREATE FUNCTION mf_search_index_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM mf_search_flush();
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mf_search_index_at_commit() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER search_index_at_commit AFTER INSERT ON search_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mf_search_index_at_commit();

CREATE OR REPLACE FUNCTION mf_contract_check_write(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d datasets;
    e record;
    v_refusals text[] := '{}';
    v_warnings jsonb := '[]';
BEGIN
    -- most tenants have no contract that judges schemas: nothing to evaluate, no schema to build
    IF NOT EXISTS (SELECT 1 FROM contracts c WHERE c.tenant_id = mf_current_tenant()
                   AND (jsonb_array_length(c.required_columns) > 0 OR NOT c.allow_extra_columns)) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO d FROM datasets WHERE id = p_id;
    FOR e IN SELECT * FROM mf_contract_evaluate(d.namespace, d.name, mf_fields_json(d.id)) LOOP
        IF cardinality(e.problems) = 0 THEN
            PERFORM mf_contract_resolve(e.contract, d.id, 'schema', 'fixed', now());
        ELSIF (e.contract).on_violation = 'block' THEN
            v_refusals := v_refusals || mf_contract_message((e.contract).name, e.problems, d.namespace, d.name);
        ELSE
            PERFORM mf_contract_record(e.contract, d, 'schema', e.problems, '{}');
            IF (e.contract).on_violation = 'warn' THEN
                v_warnings := v_warnings || jsonb_build_object('contract', (e.contract).name,
                                                               'violations', to_jsonb(e.problems));
            END IF;
        END IF;
    END LOOP;
    IF cardinality(v_refusals) > 0 THEN
        -- the whole write is undone, these records included
        PERFORM mf_raise('C09', array_to_string(v_refusals, '. '));
    END IF;
    RETURN CASE WHEN jsonb_array_length(v_warnings) > 0 THEN v_warnings END;
END
$$;
