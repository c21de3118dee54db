-- 0026_health_failing_quality: the health report's failing_quality counts
-- the datasets the quality summary shows failing.
--
-- 0011 counted a dataset as failing when the newest batch of quality results
-- recorded for it held a failure. Since 0015 a dataset's quality is the
-- latest result of each of its checks (quality_latest): a batch that reports
-- other checks only does not clear a check that failed before, and the
-- summary (GET /api/v1/datasets/{name}/quality/summary, "failing") and the
-- unhealthy list go by that. Health disagreed with them in both directions:
-- a failing check followed by a passing batch of another check was healthy
-- there and failing on the quality page. Now a dataset is failing when the
-- latest result of one of its checks failed, as on the quality page.
-- Snapshots already stored for earlier days keep the figure they had.

CREATE OR REPLACE FUNCTION mf_health_cells(p_tenant uuid) RETURNS SETOF catalog_health_cells
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT p_tenant, mf_utc_today(), d.domain_id, d.owner_id, m.name, o.name,
           count(*)::integer,
           (count(*) FILTER (WHERE d.owner_id IS NULL))::integer,
           (count(*) FILTER (WHERE btrim(d.description) = ''))::integer,
           (count(*) FILTER (WHERE fp.status = 'stale'))::integer,
           (count(*) FILTER (WHERE NOT EXISTS (
               SELECT 1 FROM dataset_usage_daily u
               WHERE u.dataset_id = d.id AND u.day > mf_utc_today() - 30 AND u.reads > 0)))::integer,
           (count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM dataset_versions v
               WHERE v.dataset_id = d.id AND v.breaking AND v.created_at > now() - interval '7 days')))::integer,
           (count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM quality_latest l WHERE l.dataset_id = d.id AND NOT l.passed)))::integer,
           coalesce(sum(f.n), 0)::integer, coalesce(sum(f.documented), 0)::integer
    FROM datasets d
    LEFT JOIN domains m ON m.id = d.domain_id
    LEFT JOIN owners o ON o.id = d.owner_id
    LEFT JOIN freshness_policies fp ON fp.dataset_id = d.id
    LEFT JOIN (SELECT x.dataset_id, count(*) n, count(*) FILTER (WHERE btrim(x.description) <> '') documented
               FROM fields x WHERE x.tenant_id = p_tenant GROUP BY x.dataset_id) f ON f.dataset_id = d.id
    WHERE d.tenant_id = p_tenant AND NOT d.placeholder AND d.lifecycle = 'active'
    GROUP BY d.domain_id, d.owner_id, m.name, o.name;
END
$$;
