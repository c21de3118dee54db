-- 0018_usage_fold: a cheaper fold of the usage stream (0010).
--
-- On the read benchmark the fold was about a tenth of all the CPU the
-- stack spent: per distinct line it parsed JSON, matched a long regular
-- expression and built composite arrays, and every update of a day's
-- counts wrote new index entries. Now mf-analytics checks the lines it
-- reads (services/analytics/src/usage.c: a tenant id shaped like a UUID, a
-- known kind, the number of fields of that kind, no control characters) and
-- sends them as plain text, one counted line per row:
--   <day YYYY-MM-DD> TAB <n> TAB <the stream's line>
-- so the database only splits them. Lines that still do not fit (a tenant
-- or dataset that does not exist) are skipped as before. A read by a caller
-- the replica already recorded for that dataset and day comes as kind 'R':
-- counted as a read, with no caller row to look up.
--
-- The daily counts leave room on their pages (fillfactor): an update that
-- changes only counts is then a HOT update, with no new index entries.
-- Pages written before this migration get that room as they are rewritten.

ALTER TABLE dataset_usage_daily SET (fillfactor = 50);

/*
 * Fold a batch into the daily counts: p_ids are the stream entry ids of the
 * batch, p_counts its counted lines (above), newline-separated. Exactly
 * once as in 0010: when one of the entries was folded before, nothing is
 * written and SQLSTATE MF409 is raised. Returns the number of events
 * counted.
 */
CREATE FUNCTION mf_usage_fold_lines(p_ids text[], p_counts text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_tenant uuid;
    v_tenants uuid[];
    v_kinds text[];
    v_callers text[];
    v_namespaces text[];
    v_names text[];
    v_days date[];
    v_ns bigint[];
    v_new bigint;
    v_counted bigint := 0;
BEGIN
    INSERT INTO usage_stream_entries (entry_ms, entry_seq)
    SELECT split_part(id, '-', 1)::bigint, split_part(id, '-', 2)::bigint
    FROM unnest(p_ids) id WHERE id ~ '^[0-9]{1,18}-[0-9]{1,18}$'
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_new = ROW_COUNT;
    IF v_new < cardinality(p_ids) THEN
        RAISE EXCEPTION 'usage: % of % stream entries were folded before', cardinality(p_ids) - v_new,
            cardinality(p_ids) USING ERRCODE = 'MF409';
    END IF;

    -- one pass over the text into parallel arrays (cheaper than composite rows), then per tenant
    SELECT array_agg(f[3]::uuid), array_agg(f[4]), array_agg(f[5]), array_agg(ref[1]), array_agg(ref[2]),
           array_agg(f[1]::date), array_agg(f[2]::bigint)
    INTO v_tenants, v_kinds, v_callers, v_namespaces, v_names, v_days, v_ns
    FROM unnest(string_to_array(p_counts, E'\n')) line
    CROSS JOIN LATERAL (SELECT string_to_array(line, E'\t') AS f OFFSET 0) l -- split once, not per reference
    CROSS JOIN LATERAL (SELECT CASE WHEN f[4] = 'l' THEN mf_usage_node_dataset(f[6]) ELSE ARRAY[f[6], f[7]] END
                        AS ref OFFSET 0) r
    WHERE cardinality(f) = CASE WHEN f[4] = 'l' THEN 6 ELSE 7 END AND ref IS NOT NULL;

    FOR v_tenant IN SELECT DISTINCT t FROM unnest(v_tenants) t ORDER BY 1 LOOP
        PERFORM set_config('mf.tenant_id', v_tenant::text, true),
                set_config('mf.scope', '', true),
                set_config('mf.user_id', '', true);
        WITH c AS (
            SELECT d.id AS dataset_id, x.kind, x.caller, x.day, x.n
            FROM unnest(v_tenants, v_kinds, v_callers, v_namespaces, v_names, v_days, v_ns)
                 AS x(tenant_id, kind, caller, namespace, name, day, n)
            JOIN datasets d ON d.tenant_id = v_tenant AND d.namespace = x.namespace AND d.name = x.name
            WHERE x.tenant_id = v_tenant),
        daily AS (
            INSERT INTO dataset_usage_daily AS u (tenant_id, dataset_id, day, reads, search_appearances, lineage_queries)
            SELECT v_tenant, dataset_id, day, coalesce(sum(n) FILTER (WHERE kind IN ('r', 'R')), 0),
                   coalesce(sum(n) FILTER (WHERE kind = 's'), 0), coalesce(sum(n) FILTER (WHERE kind = 'l'), 0)
            FROM c GROUP BY dataset_id, day
            ORDER BY dataset_id, day -- one lock order for concurrent replicas
            ON CONFLICT (dataset_id, day) DO UPDATE SET
                reads = u.reads + EXCLUDED.reads,
                search_appearances = u.search_appearances + EXCLUDED.search_appearances,
                lineage_queries = u.lineage_queries + EXCLUDED.lineage_queries),
        callers AS (
            INSERT INTO dataset_usage_callers_daily (tenant_id, dataset_id, day, caller)
            SELECT DISTINCT v_tenant, dataset_id, day, caller
            FROM c WHERE kind = 'r' AND caller <> ''
            ORDER BY 2, 3, 4
            ON CONFLICT DO NOTHING)
        SELECT v_counted + coalesce(sum(n), 0) INTO v_counted FROM c;
    END LOOP;
    PERFORM set_config('mf.tenant_id', '', true);
    RETURN v_counted;
END
$$;

DROP FUNCTION mf_usage_fold(jsonb);
DROP TYPE mf_usage_count;
