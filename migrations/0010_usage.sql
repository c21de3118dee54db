-- 0010_usage: how much each dataset is used, per day, folded by mf-analytics
-- (services/analytics/src/usage.c) from the access events mf-api appends to
-- the usage stream (libshared/include/mf/usage.h), and read by
-- GET /api/v1/datasets/{name}/usage, /analytics/popular and /analytics/unused
-- (services/api/src/usage.c).
--
-- A stream entry carries the events one mf-api loop thread collected in a
-- few milliseconds, one per line, tab-separated:
--   <tenant id> r|s <caller> <namespace> <name>   a read, a search appearance
--   <tenant id> l <caller> <lineage node id>      a lineage query
-- caller is "user:<uuid>" or "key:<uuid>". The entry's id ("<ms>-<seq>",
-- given by Redis) dates them: the day is the UTC date of its milliseconds.
-- Datasets are named, not numbered, because that is what the requests carry;
-- the fold resolves the names (an event of a dataset deleted meanwhile is
-- dropped).
--
-- Exactly once. A replica may fold a batch, commit and die before XACK; the
-- group then hands the entries to another replica (XAUTOCLAIM). The fold
-- records every entry id in usage_stream_entries in the same transaction as
-- the counts and refuses a batch holding an entry recorded before, so a
-- redelivered entry adds nothing. Those rows name no tenant (an entry may hold events of
-- several) and are forgotten after a few days by mf_usage_forget_entries.

CREATE TABLE dataset_usage_daily (
    tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id         uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    day                date NOT NULL,
    reads              bigint NOT NULL DEFAULT 0,
    search_appearances bigint NOT NULL DEFAULT 0,
    lineage_queries    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (dataset_id, day)
);
CREATE INDEX dataset_usage_daily_tenant_day ON dataset_usage_daily (tenant_id, day);

-- Who read each dataset on each day (unique_users over a period). Only
-- presence is kept: a repeated read of a day finds its row and writes nothing.
CREATE TABLE dataset_usage_callers_daily (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    day        date NOT NULL,
    caller     text NOT NULL,
    PRIMARY KEY (dataset_id, day, caller)
);

CREATE TABLE usage_stream_entries (
    entry_ms  bigint NOT NULL,
    entry_seq bigint NOT NULL,
    PRIMARY KEY (entry_ms, entry_seq)
);

SELECT mf_enable_tenant_isolation(ARRAY['dataset_usage_daily', 'dataset_usage_callers_daily']);

-- A scoped caller sees the usage of the datasets it sees (as 0007 does for fields).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dataset_usage_daily', 'dataset_usage_callers_daily'] LOOP
        EXECUTE format('CREATE POLICY caller_scope ON %I AS RESTRICTIVE FOR SELECT '
                       'USING ((SELECT mf_access_unscoped()) '
                       '       OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = %I.dataset_id))', t, t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON dataset_usage_daily, dataset_usage_callers_daily TO mf_app;
GRANT SELECT, INSERT, DELETE ON usage_stream_entries TO mf_app;

-- The dataset (namespace, name) a lineage node id names: dataset and
-- datasetField nodes; NULL for jobs and for anything malformed.
CREATE FUNCTION mf_usage_node_dataset(p_node text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE n record;
BEGIN
    n := mf_graph_parse_node(p_node);
    RETURN CASE WHEN n.kind IN ('dataset', 'datasetField') THEN ARRAY[n.namespace, n.name] END;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

-- What one caller did to one dataset on one day, n times, within a batch.
CREATE TYPE mf_usage_count AS (
    tenant_id uuid, kind text, caller text, namespace text, name text, day date, n bigint
);

/*
 * Fold a batch into the daily counts: p_batch is {"ids": [entry id, ...],
 * "counts": [[day, line, n], ...]}, the lines of those entries counted by
 * mf-analytics (n times that line on that day). Each tenant's rows are
 * written under its own mf.tenant_id (Row Level Security applies:
 * mf-analytics runs as mf_app). Malformed lines and datasets that do not
 * exist (any more) are skipped. When one of the entries was folded before,
 * nothing is written and SQLSTATE MF409 is raised: the caller then folds the
 * entries one at a time (a redelivery is rare) and acknowledges the ones
 * refused so. Returns the number of events counted.
 */
CREATE FUNCTION mf_usage_fold(p_batch jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_counts mf_usage_count[];
    v_tenant uuid;
    v_new bigint;
    v_counted bigint := 0;
BEGIN
    INSERT INTO usage_stream_entries (entry_ms, entry_seq)
    SELECT split_part(id, '-', 1)::bigint, split_part(id, '-', 2)::bigint
    FROM jsonb_array_elements_text(p_batch->'ids') id WHERE id ~ '^[0-9]{1,18}-[0-9]{1,18}$'
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_new = ROW_COUNT;
    IF v_new < jsonb_array_length(p_batch->'ids') THEN
        RAISE EXCEPTION 'usage: % of % stream entries were folded before', jsonb_array_length(p_batch->'ids') - v_new,
            jsonb_array_length(p_batch->'ids') USING ERRCODE = 'MF409';
    END IF;

    WITH g AS (
        SELECT string_to_array(c->>1, E'\t') AS f, (c->>0)::date AS day, (c->>2)::bigint AS n
        FROM jsonb_array_elements(p_batch->'counts') c
        WHERE c->>0 ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' AND c->>2 ~ '^[0-9]{1,15}$'
          AND c->>1 ~ '^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\t([rs]\t[^\t]*\t[^\t]+\t[^\t]+|l\t[^\t]*\t[^\t]+)$'),
    r AS (
        SELECT f[1]::uuid AS tenant_id, f[2] AS kind, f[3] AS caller, day, n,
               CASE WHEN f[2] = 'l' THEN mf_usage_node_dataset(f[4]) ELSE ARRAY[f[4], f[5]] END AS ref
        FROM g)
    SELECT array_agg(ROW(tenant_id, kind, caller, ref[1], ref[2], day, n)::mf_usage_count) INTO v_counts
    FROM r WHERE ref IS NOT NULL;

    FOR v_tenant IN SELECT DISTINCT tenant_id FROM unnest(v_counts) ORDER BY 1 LOOP
        PERFORM set_config('mf.tenant_id', v_tenant::text, true),
                set_config('mf.scope', '', true),
                set_config('mf.user_id', '', true);
        WITH c AS (
            SELECT d.id AS dataset_id, x.kind, x.caller, x.day, x.n
            FROM unnest(v_counts) x
            JOIN datasets d ON d.tenant_id = v_tenant AND d.namespace = x.namespace AND d.name = x.name
            WHERE x.tenant_id = v_tenant),
        daily AS (
            INSERT INTO dataset_usage_daily AS u (tenant_id, dataset_id, day, reads, search_appearances, lineage_queries)
            SELECT v_tenant, dataset_id, day, coalesce(sum(n) FILTER (WHERE kind = 'r'), 0),
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

-- Forget the ids of entries folded more than p_days days ago (the stream has long moved on).
CREATE FUNCTION mf_usage_forget_entries(p_days integer) RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM usage_stream_entries
                  WHERE entry_ms < extract(epoch FROM now() - make_interval(days => p_days)) * 1000 RETURNING 1)
    SELECT count(*) FROM gone
$$;

-- ---------- reads (services/api/src/usage.c), as the caller: RLS keeps them to what it sees ----------

-- The first day of a period of p_days UTC days that ends today.
CREATE FUNCTION mf_usage_since(p_days integer) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'UTC')::date - (p_days - 1)
$$;

-- Distinct callers that read dataset p_id from p_from to p_to.
CREATE FUNCTION mf_usage_readers(p_id uuid, p_from date, p_to date) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(DISTINCT caller) FROM dataset_usage_callers_daily
    WHERE dataset_id = p_id AND day BETWEEN p_from AND p_to
$$;

-- Usage of one dataset over the last p_days days, with one row per day (NULL: no such dataset for the caller).
CREATE FUNCTION mf_usage_dataset(p_ns text, p_name text, p_days integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'namespace', d.namespace, 'name', d.name, 'period', p_days || 'd',
        'from', mf_usage_since(p_days), 'to', mf_usage_since(1),
        'total_reads', coalesce(sum(u.reads), 0),
        'unique_users', mf_usage_readers(d.id, mf_usage_since(p_days), mf_usage_since(1)),
        'search_appearances', coalesce(sum(u.search_appearances), 0),
        'lineage_queries', coalesce(sum(u.lineage_queries), 0),
        'daily', jsonb_agg(jsonb_build_object(
            'day', g.day, 'reads', coalesce(u.reads, 0), 'unique_users', mf_usage_readers(d.id, g.day, g.day),
            'search_appearances', coalesce(u.search_appearances, 0), 'lineage_queries', coalesce(u.lineage_queries, 0))
            ORDER BY g.day))
    FROM datasets d
    CROSS JOIN LATERAL (SELECT day::date FROM generate_series(mf_usage_since(p_days), mf_usage_since(1), '1 day') day) g
    LEFT JOIN dataset_usage_daily u ON u.dataset_id = d.id AND u.day = g.day
    WHERE d.tenant_id = mf_current_tenant() AND d.namespace = p_ns AND d.name = p_name
    GROUP BY d.id
$$;

-- A page of the most read datasets of the last p_days days (the list pattern of libshared list.h;
-- sort key [reads, namespace, name]).
CREATE FUNCTION mf_usage_popular(p_days integer, p_limit integer, p_after jsonb)
RETURNS TABLE (items jsonb, next_key jsonb)
LANGUAGE sql STABLE AS $$
    WITH totals AS (
        SELECT u.dataset_id, sum(u.reads) AS reads, sum(u.search_appearances) AS searches,
               sum(u.lineage_queries) AS lineage
        FROM dataset_usage_daily u
        WHERE u.tenant_id = mf_current_tenant() AND u.day >= mf_usage_since(p_days)
        GROUP BY u.dataset_id HAVING sum(u.reads) > 0),
    page AS (
        SELECT t.*, d.namespace, d.name, row_number() OVER (ORDER BY t.reads DESC, d.namespace, d.name) rn
        FROM totals t JOIN datasets d ON d.id = t.dataset_id
        WHERE p_after IS NULL
           OR (-t.reads, d.namespace, d.name) > (-(p_after->>0)::bigint, p_after->>1, p_after->>2)
        ORDER BY t.reads DESC, d.namespace, d.name LIMIT p_limit + 1)
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'namespace', namespace, 'name', name, 'total_reads', reads,
               'unique_users', mf_usage_readers(dataset_id, mf_usage_since(p_days), mf_usage_since(1)),
               'search_appearances', searches, 'lineage_queries', lineage) ORDER BY rn) FILTER (WHERE rn <= p_limit), '[]'),
           CASE WHEN count(*) > p_limit THEN (array_agg(jsonb_build_array(reads, namespace, name) ORDER BY rn))[p_limit] END
    FROM page
$$;

-- A page of the active datasets older than p_days days that nobody read in the last p_days days
-- (sort key [namespace, name]); last_read_on is the last day anyone read them, if ever.
CREATE FUNCTION mf_usage_unused(p_days integer, p_limit integer, p_after jsonb)
RETURNS TABLE (items jsonb, next_key jsonb)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT d.id, d.namespace, d.name, d.created_at, row_number() OVER (ORDER BY d.namespace, d.name) rn
        FROM datasets d
        WHERE d.tenant_id = mf_current_tenant() AND d.lifecycle = 'active'
          AND d.created_at <= now() - make_interval(days => p_days)
          AND NOT EXISTS (SELECT 1 FROM dataset_usage_daily u
                          WHERE u.dataset_id = d.id AND u.day >= mf_usage_since(p_days) AND u.reads > 0)
          AND (p_after IS NULL OR (d.namespace, d.name) > (p_after->>0, p_after->>1))
        ORDER BY d.namespace, d.name LIMIT p_limit + 1)
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'namespace', namespace, 'name', name, 'created_at', mf_ts(created_at),
               'last_read_on', (SELECT max(u.day) FROM dataset_usage_daily u WHERE u.dataset_id = page.id AND u.reads > 0))
               ORDER BY rn) FILTER (WHERE rn <= p_limit), '[]'),
           CASE WHEN count(*) > p_limit THEN (array_agg(jsonb_build_array(namespace, name) ORDER BY rn))[p_limit] END
    FROM page
$$;
