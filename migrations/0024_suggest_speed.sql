-- 0024_suggest_speed: autocomplete finds its names without reading every
-- match. The same suggestions (checked against 0023's function).
--
-- Suggestions are ordered names that start with the query first, then the
-- shortest, then kind and name; 0023 read every index row whose names hold a
-- word with the query's prefix, then sorted them: at 100,000 datasets a
-- tenant "financ" reads about 20,000 rows for 10 suggestions (26 ms). Names
-- that start with the query outrank all others, so when there are at least
-- p_limit of them the answer is the p_limit shortest of those, and an index
-- on (tenant, first three letters of the lowercased name, length) walks them
-- shortest first and stops. Fewer than p_limit such names (a word inside
-- names, a correction, a query of one or two letters): 0023's way, unchanged.
-- The index is small (three letters and a length per row). The fast path
-- writes its match `(... @@ qm) IS TRUE` so the planner walks that index in
-- length order instead of ANDing it with the text index's bitmap (every
-- match again).

CREATE INDEX search_index_name_start ON search_index (tenant_id, left(lower(name), 3), length(name));

CREATE OR REPLACE FUNCTION mf_search_suggest(p_q text, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    lq text := lower(btrim(p_q));
    qm tsquery;
    shortest integer; -- distinct names among the p_limit shortest that start with the query
    longest integer;  -- the longest of those
BEGIN
    SELECT mf_search_match_query(array_agg(w ORDER BY o), array_agg(alt ORDER BY o), '') INTO qm
    FROM mf_search_words_corrected(p_q);
    IF length(lq) >= 3 THEN
        SELECT count(DISTINCT (kind, name, namespace, dataset)), max(len) INTO shortest, longest FROM (
            SELECT s.kind, s.name, s.namespace, s.dataset, length(s.name) len FROM search_index s
            WHERE s.tenant_id = mf_current_tenant() AND left(lower(s.name), 3) = left(lq, 3)
              AND starts_with(lower(s.name), lq) AND (ts_filter(s.tsv, '{a}') @@ qm) IS TRUE
              AND mf_search_visible(s)
            ORDER BY length(s.name) LIMIT p_limit) x;
        IF shortest >= p_limit THEN
            RETURN (
                SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'name', name,
                                                                               'namespace', namespace,
                                                                               'dataset', dataset)) ORDER BY rk), '[]')
                FROM (SELECT d.*, row_number() OVER (ORDER BY length(name),
                                                     CASE kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END,
                                                     name COLLATE "C", namespace COLLATE "C", dataset COLLATE "C") rk
                      FROM (SELECT DISTINCT s.kind, s.name, s.namespace, s.dataset FROM search_index s
                            WHERE s.tenant_id = mf_current_tenant() AND left(lower(s.name), 3) = left(lq, 3)
                              AND length(s.name) <= longest AND starts_with(lower(s.name), lq)
                              AND (ts_filter(s.tsv, '{a}') @@ qm) IS TRUE AND mf_search_visible(s)) d) x
                WHERE rk <= p_limit);
        END IF;
    END IF;
    RETURN (
        WITH m AS (
            SELECT s.kind, s.name, s.namespace, s.dataset, starts_with(lower(s.name), lq) AS starts
            FROM search_index s
            WHERE s.tenant_id = mf_current_tenant() AND ts_filter(s.tsv, '{a}') @@ qm AND mf_search_visible(s)),
        d AS (SELECT DISTINCT ON (kind, name, namespace, dataset) * FROM m)
        SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'name', name, 'namespace', namespace,
                                                                       'dataset', dataset)) ORDER BY rk), '[]')
        FROM (SELECT d.*, row_number() OVER (ORDER BY starts DESC, length(name),
                                             CASE kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END,
                                             name COLLATE "C", namespace COLLATE "C", dataset COLLATE "C") rk FROM d) x
        WHERE rk <= p_limit);
END
$$;
