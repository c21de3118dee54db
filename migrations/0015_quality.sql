-- 0015_quality: data quality results from any source, a quality score per
-- dataset, and the list of unhealthy datasets.
--
-- One store. dataset_quality (0003) stays the only place results are
-- written: dbt and Great Expectations imports, OpenLineage
-- dataQualityAssertions / dataQualityMetrics, and POST
-- /api/v1/datasets/{name}/quality (mf_quality_record) each insert one row per
-- batch, its results in the "assertions" array:
--   {"assertion": check, "success": passed, "column"?, "observed_value"?,
--    "expected"?, "severity"?, "message"?, ...source-specific members}
-- so the quality.failed trigger (0012), the health counts (0011) and
-- everything below see every source alike. quality_results is the
-- normalized view of those arrays (one row per result, the caller's rights);
-- quality_latest, kept by a trigger on dataset_quality, holds the latest
-- result of each check so that scores and the unhealthy list do not read
-- every batch ever recorded.
--
-- Severity. A result's own "severity" (info, warning, error, critical); a dbt
-- test that ended in status "warn" is a warning; anything else (imports
-- carry no severity) is an error.
--
-- When. A batch's observed_at is when its run happened (the run's event
-- time when the batch names a recorded run, else when it was recorded), so a
-- re-imported or late-arriving old run does not replace a newer result.
--
-- Score (mf_quality_score). The latest result of each (check, column) of the
-- dataset counts (latest: the newest observed_at, then the newest batch;
-- within a batch, the last occurrence), weighted by severity: info 1,
-- warning 2, error 4, critical 8. The score is 100 * (weight of the passing
-- checks) / (weight of all checks), 0..100 with two decimals; NULL when the
-- dataset has no results. A check that stops being reported keeps its last
-- result until a newer one replaces it.
--
-- Unhealthy (mf_quality_unhealthy): a dataset with results whose score is
-- below a threshold (default 80) or whose latest result of some error or
-- critical check failed; dropped datasets are left out.

ALTER TABLE dataset_quality
    ADD COLUMN source text,              -- the POST's "source"; NULL for ingest events and imports
    ADD COLUMN observed_at timestamptz;  -- see "When" above
UPDATE dataset_quality q SET observed_at = coalesce((SELECT r.event_time FROM runs r
                                                     WHERE r.tenant_id = q.tenant_id AND r.run_id = q.run_id), q.at);
ALTER TABLE dataset_quality ALTER COLUMN observed_at SET NOT NULL;

CREATE FUNCTION mf_quality_observed_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.observed_at := coalesce((SELECT r.event_time FROM runs r WHERE r.tenant_id = NEW.tenant_id
                                                                   AND r.run_id = NEW.run_id), NEW.at);
    RETURN NEW;
END
$$;
CREATE TRIGGER observed_at BEFORE INSERT ON dataset_quality FOR EACH ROW EXECUTE FUNCTION mf_quality_observed_at();

-- The rank of a severity (info 1 .. critical 4; NULL when it is not one).
CREATE FUNCTION mf_quality_rank(p_severity text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_severity WHEN 'info' THEN 1 WHEN 'warning' THEN 2 WHEN 'error' THEN 3 WHEN 'critical' THEN 4 END
$$;

-- The severity of one stored result (see the header).
CREATE FUNCTION mf_quality_severity(p_result jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN mf_quality_rank(p_result->>'severity') IS NOT NULL THEN p_result->>'severity'
                WHEN p_result->>'status' = 'warn' THEN 'warning'
                ELSE 'error' END
$$;

-- The results of one batch's assertions array, one row each; elements that
-- are not a check's result (no "assertion" name or no boolean "success") are
-- not results.
CREATE FUNCTION mf_quality_expand(p_assertions jsonb)
RETURNS TABLE (seq integer, check_name text, column_name text, passed boolean, severity text, result jsonb)
LANGUAGE sql IMMUTABLE AS $$
    SELECT x.o::integer, x.a->>'assertion', coalesce(x.a->>'column', ''), x.a->'success' = 'true'::jsonb,
           mf_quality_severity(x.a), x.a
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_assertions) = 'array' THEN p_assertions ELSE '[]' END)
         WITH ORDINALITY x(a, o)
    WHERE jsonb_typeof(x.a->'assertion') = 'string' AND jsonb_typeof(x.a->'success') = 'boolean'
$$;

-- Every recorded result, one row each (column_name '' when the check has no column).
CREATE VIEW quality_results WITH (security_invoker = true) AS
SELECT q.id AS batch_id, x.seq, q.tenant_id, q.dataset_id, q.run_id, q.source, q.observed_at AS at,
       x.check_name, x.column_name, x.passed, x.severity, x.result
FROM dataset_quality q CROSS JOIN LATERAL mf_quality_expand(q.assertions) x;

GRANT SELECT ON quality_results TO mf_app;

-- The latest result of each (check, column) of each dataset, kept by the
-- triggers below so that scores and the unhealthy list read one row per
-- check instead of every batch ever recorded. A row belongs to its batch:
-- deleting a batch (a re-imported run replaces its results) removes its rows
-- and the trigger fills the gaps from the remaining batches.
CREATE TABLE quality_latest (
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id  uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    check_name  text NOT NULL,
    column_name text NOT NULL,
    batch_id    bigint NOT NULL REFERENCES dataset_quality(id) ON DELETE CASCADE,
    seq         integer NOT NULL, -- 1-based place of the result in its batch's assertions
    passed      boolean NOT NULL,
    severity    text NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (dataset_id, check_name, column_name)
);
CREATE INDEX quality_latest_tenant ON quality_latest (tenant_id, dataset_id);
CREATE INDEX quality_latest_batch ON quality_latest (batch_id);

SELECT mf_enable_tenant_isolation(ARRAY['quality_latest']);
GRANT SELECT, INSERT, UPDATE, DELETE ON quality_latest TO mf_app;
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON quality_latest
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE POLICY caller_scope ON quality_latest AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = quality_latest.dataset_id));

-- Fold results into quality_latest where they are newer (observed later, then a later batch or place in it).
CREATE FUNCTION mf_quality_latest_merge(p_results quality_results[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO quality_latest AS l (tenant_id, dataset_id, check_name, column_name, batch_id, seq, passed,
                                     severity, at)
    SELECT DISTINCT ON (r.dataset_id, r.check_name, r.column_name)
           r.tenant_id, r.dataset_id, r.check_name, r.column_name, r.batch_id, r.seq, r.passed, r.severity, r.at
    FROM unnest(p_results) r
    ORDER BY r.dataset_id, r.check_name, r.column_name, r.at DESC, r.batch_id DESC, r.seq DESC
    ON CONFLICT (dataset_id, check_name, column_name) DO UPDATE SET
        batch_id = EXCLUDED.batch_id, seq = EXCLUDED.seq, passed = EXCLUDED.passed,
        severity = EXCLUDED.severity, at = EXCLUDED.at
    WHERE (EXCLUDED.at, EXCLUDED.batch_id, EXCLUDED.seq) > (l.at, l.batch_id, l.seq)
$$;

CREATE FUNCTION mf_quality_latest_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM mf_quality_latest_merge(ARRAY(SELECT r FROM quality_results r WHERE r.batch_id = NEW.id));
    ELSIF EXISTS (SELECT 1 FROM datasets d WHERE d.id = OLD.dataset_id) THEN
        -- a batch removed from a dataset that stays: its checks fall back to their previous results
        DELETE FROM quality_latest WHERE batch_id = OLD.id;
        PERFORM mf_quality_latest_merge(ARRAY(
            SELECT r FROM quality_results r
            WHERE r.dataset_id = OLD.dataset_id AND (r.check_name, r.column_name) IN (
                SELECT x.check_name, x.column_name FROM mf_quality_expand(OLD.assertions) x)));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER quality_latest AFTER INSERT OR DELETE ON dataset_quality
    FOR EACH ROW EXECUTE FUNCTION mf_quality_latest_track();

SELECT mf_quality_latest_merge(ARRAY(SELECT r FROM quality_results r));

/*
 * The latest result of each (check, column) of dataset p_dataset observed
 * before p_until (NULL: the latest of all, from quality_latest).
 */
CREATE FUNCTION mf_quality_latest(p_dataset uuid, p_until timestamptz DEFAULT NULL) RETURNS SETOF quality_results
LANGUAGE sql STABLE AS $$
    SELECT l.batch_id, l.seq, l.tenant_id, l.dataset_id, q.run_id, q.source, l.at, l.check_name, l.column_name,
           l.passed, l.severity, q.assertions->(l.seq - 1)
    FROM quality_latest l JOIN dataset_quality q ON q.id = l.batch_id
    WHERE p_until IS NULL AND l.dataset_id = p_dataset
    UNION ALL
    (SELECT DISTINCT ON (check_name, column_name) *
     FROM quality_results
     WHERE p_until IS NOT NULL AND dataset_id = p_dataset AND at < p_until
     ORDER BY check_name, column_name, at DESC, batch_id DESC, seq DESC)
$$;

-- The weight of a severity in the score (see the header): 2^(rank - 1).
CREATE FUNCTION mf_quality_weight(p_severity text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT power(2, mf_quality_rank(p_severity) - 1)::numeric
$$;

-- The score from the summed weights of the passing and of all latest results (NULL without results).
CREATE FUNCTION mf_quality_score_of(p_passing numeric, p_total numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(100 * coalesce(p_passing, 0) / nullif(p_total, 0), 2)
$$;

/*
 * The quality score of dataset p_dataset (see the header), 0..100, as the
 * caller sees it (Row Level Security applies); NULL when it has no results.
 */
CREATE FUNCTION mf_quality_score(p_dataset uuid) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT mf_quality_score_of(sum(mf_quality_weight(severity)) FILTER (WHERE passed),
                               sum(mf_quality_weight(severity)))
    FROM quality_latest WHERE dataset_id = p_dataset
$$;

-- ---------- recording results (POST /api/v1/datasets/{name}/quality) ----------

/*
 * Record one batch of results for dataset p_ns/p_name (404 when the caller
 * does not see it, 403 when it may not write it) from p_source, optionally of
 * run p_run. p_results is the validated array of the API's results
 * ({"check", "column"?, "passed", "observed_value"?, "expected"?, "severity",
 * "message"?}), stored in the shape every source shares. A failing result
 * raises quality.failed (0012's trigger); the batch is audited. Returns the
 * batch's document with the dataset's new score.
 */
CREATE FUNCTION mf_quality_record(p_ns text, p_name text, p_source text, p_run uuid, p_results jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_ds uuid := mf_dataset_id(p_ns, p_name);
    v_stored jsonb;
    q dataset_quality;
    v_failed integer;
BEGIN
    PERFORM mf_access_check_dataset(v_ds);
    SELECT jsonb_agg((SELECT jsonb_object_agg(k, v) FROM jsonb_each(jsonb_build_object(
                          'assertion', r->'check', 'column', r->'column', 'success', r->'passed',
                          'severity', r->'severity', 'observed_value', r->'observed_value',
                          'expected', r->'expected', 'message', r->'message')) e(k, v)
                      WHERE v <> 'null'::jsonb) ORDER BY o),
           count(*) FILTER (WHERE r->'passed' = 'false'::jsonb)
    INTO v_stored, v_failed
    FROM jsonb_array_elements(p_results) WITH ORDINALITY x(r, o);
    INSERT INTO dataset_quality (tenant_id, dataset_id, run_id, source, assertions)
    VALUES (mf_current_tenant(), v_ds, p_run, p_source, v_stored)
    RETURNING * INTO q;
    PERFORM mf_audit_event(mf_current_tenant(), 'quality.record', p_ns || '/' || p_name,
                           jsonb_build_object('id', q.id, 'source', p_source, 'run_id', p_run,
                                              'results', jsonb_array_length(v_stored), 'failed', v_failed));
    RETURN jsonb_build_object('id', q.id, 'dataset', jsonb_build_object('namespace', p_ns, 'name', p_name),
                              'source', p_source, 'run_id', p_run, 'at', mf_ts(q.observed_at),
                              'results', jsonb_array_length(v_stored), 'failed', v_failed,
                              'score', mf_quality_score(v_ds));
END
$$;

-- ---------- reading ----------

-- One latest result as the API shows it.
CREATE FUNCTION mf_quality_result_doc(r quality_results) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('check', r.check_name, 'column', nullif(r.column_name, ''), 'passed', r.passed,
                              'severity', r.severity, 'observed_value', r.result->'observed_value',
                              'expected', r.result->'expected', 'message', r.result->'message',
                              'source', r.source, 'run_id', r.run_id, 'at', mf_ts(r.at))
$$;

/*
 * The quality summary of dataset p_ns/p_name (404 when the caller does not
 * see it): its score, the latest result of each check (failing first, worst
 * severity first; at most 1000), and the trend: for each UTC day of the last
 * p_days on which results were recorded, the score at the end of that day.
 */
CREATE FUNCTION mf_quality_summary(p_ns text, p_name text, p_days integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_ds uuid := mf_dataset_id(p_ns, p_name);
    v_since timestamptz := (mf_utc_today() - (p_days - 1))::timestamp AT TIME ZONE 'UTC';
    v_latest jsonb;
    v_trend jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(mf_quality_result_doc(x) ORDER BY x.passed, mf_quality_rank(x.severity) DESC,
                                                                x.check_name, x.column_name), '[]')
    INTO v_latest
    FROM (SELECT * FROM mf_quality_latest(v_ds) y
          ORDER BY y.passed, mf_quality_rank(y.severity) DESC, y.check_name, y.column_name LIMIT 1000) x;
    SELECT coalesce(jsonb_agg(jsonb_build_object('day', to_char(d.day, 'YYYY-MM-DD'), 'score', (
                        SELECT mf_quality_score_of(sum(mf_quality_weight(t.severity)) FILTER (WHERE t.passed),
                                                   sum(mf_quality_weight(t.severity)))
                        FROM mf_quality_latest(v_ds, (d.day + 1)::timestamp AT TIME ZONE 'UTC') t))
                    ORDER BY d.day), '[]')
    INTO v_trend
    FROM (SELECT DISTINCT (q.observed_at AT TIME ZONE 'UTC')::date AS day FROM dataset_quality q
          WHERE q.dataset_id = v_ds AND q.observed_at >= v_since) d;
    RETURN (SELECT jsonb_build_object(
                       'dataset', jsonb_build_object('namespace', p_ns, 'name', p_name),
                       'score', mf_quality_score_of(sum(mf_quality_weight(l.severity)) FILTER (WHERE l.passed),
                                                    sum(mf_quality_weight(l.severity))),
                       'checks', count(*), 'failing', count(*) FILTER (WHERE NOT l.passed),
                       'last_result_at', mf_ts(max(l.at)), 'latest', v_latest, 'trend', v_trend)
            FROM quality_latest l WHERE l.dataset_id = v_ds);
END
$$;

/*
 * The caller's unhealthy datasets (see the header), worst first: lowest
 * score, then worst failing severity, then namespace and name. A page of the
 * list protocol (libshared list.h): p_after is the last row's key ["score",
 * 4 - worst rank, namespace, name] (the score as text: cursors hold strings
 * and integers). Filters: p_max_score (the threshold), p_severity (only
 * datasets with a failing latest check at least this severe), p_domain and
 * p_owner (names). Row Level Security applies: a scoped caller lists only the
 * datasets it sees.
 */
CREATE FUNCTION mf_quality_unhealthy(p_limit integer, p_after jsonb, p_max_score numeric, p_severity text,
                                     p_domain text, p_owner text, OUT items jsonb, OUT next_key jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_after IS NOT NULL AND NOT (jsonb_typeof(p_after) = 'array' AND jsonb_array_length(p_after) = 4
                                    AND (p_after->>0) ~ '^[0-9]{1,3}(\.[0-9]{1,2})?$'
                                    AND jsonb_typeof(p_after->1) = 'number'
                                    AND jsonb_typeof(p_after->2) = 'string'
                                    AND jsonb_typeof(p_after->3) = 'string') THEN
        PERFORM mf_raise('400', 'cursor is not valid; use next_cursor from a previous page');
    END IF;
    -- joined before grouping: the planner estimates the join of every latest row well (a hash
    -- join), where joining the groups it underestimates becomes a nested loop over the datasets
    WITH per AS (
        SELECT l.dataset_id, d.namespace, d.name, d.domain_id, d.owner_id,
               mf_quality_score_of(sum(mf_quality_weight(l.severity)) FILTER (WHERE l.passed),
                                   sum(mf_quality_weight(l.severity))) AS score,
               count(*) AS checks, count(*) FILTER (WHERE NOT l.passed) AS failing,
               coalesce(max(mf_quality_rank(l.severity)) FILTER (WHERE NOT l.passed), 0) AS worst,
               max(l.at) AS last_at
        FROM quality_latest l JOIN datasets d ON d.id = l.dataset_id
        WHERE l.tenant_id = mf_current_tenant() AND d.lifecycle = 'active'
          AND (p_domain IS NULL OR d.domain_id = (SELECT m.id FROM domains m WHERE m.tenant_id = mf_current_tenant()
                                                                               AND m.name = p_domain))
          AND (p_owner IS NULL OR d.owner_id = (SELECT o.id FROM owners o WHERE o.tenant_id = mf_current_tenant()
                                                                            AND o.name = p_owner))
        GROUP BY l.dataset_id, d.namespace, d.name, d.domain_id, d.owner_id),
    page AS (
        SELECT * FROM per p
        WHERE (p.score < p_max_score OR p.worst >= 3)
          AND (p_severity IS NULL OR p.worst >= mf_quality_rank(p_severity))
          AND (p_after IS NULL OR (p.score, 4 - p.worst, p.namespace, p.name)
                                  > ((p_after->>0)::numeric, (p_after->>1)::integer, p_after->>2, p_after->>3))
        ORDER BY p.score, 4 - p.worst, p.namespace, p.name
        LIMIT p_limit + 1),
    numbered AS (SELECT *, row_number() OVER (ORDER BY score, 4 - worst, namespace, name) rn FROM page)
    SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'dataset', jsonb_build_object('namespace', namespace, 'name', name),
                        'domain', (SELECT m.name FROM domains m WHERE m.id = domain_id),
                        'owner', (SELECT o.name FROM owners o WHERE o.id = owner_id),
                        'score', score, 'checks', checks, 'failing', failing,
                        'worst_severity', (ARRAY['info', 'warning', 'error', 'critical'])[nullif(worst, 0)],
                        'failing_checks', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                                      'check', f.check_name, 'column', nullif(f.column_name, ''),
                                                      'severity', f.severity, 'at', mf_ts(f.at))
                                                  ORDER BY mf_quality_rank(f.severity) DESC, f.check_name,
                                                           f.column_name), '[]')
                                           FROM (SELECT * FROM quality_latest f
                                                 WHERE f.dataset_id = numbered.dataset_id AND NOT f.passed
                                                 ORDER BY mf_quality_rank(f.severity) DESC, f.check_name,
                                                          f.column_name
                                                 LIMIT 10) f),
                        'last_result_at', mf_ts(last_at))
                    ORDER BY rn) FILTER (WHERE rn <= p_limit), '[]'),
           (SELECT jsonb_build_array(n.score::text, 4 - n.worst, n.namespace, n.name) FROM numbered n
            WHERE n.rn = p_limit AND (SELECT count(*) FROM numbered) > p_limit)
    INTO items, next_key
    FROM numbered;
END
$$;
