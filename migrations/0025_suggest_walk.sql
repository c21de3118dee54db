-- 0025_suggest_walk: autocomplete from the first letter in milliseconds at
-- 100,000 datasets a tenant, with the same suggestions.
--
-- Suggestions that start with the query come first, ordered by length, then
-- datasets, terms, fields, then name, namespace and dataset (0023). When at
-- least `limit` names start with the query, those first `limit` are the
-- answer. 0023 found them with an index of (first three letters, length):
-- it walked the `limit` shortest to learn the longest length needed, then
-- read every name up to that length to sort the ties. A field name that many
-- datasets share ties at one length, and every tied row was read: "ord" took
-- 290 ms and "cus" 163 ms. One or two letters could not use that index at
-- all and read every match ("o" 424 ms, "fi" 250 ms).
--
-- Now three indexes, of the first one, two and three letters of the name,
-- each followed by the whole order of the answer (length, kind rank, name,
-- namespace, dataset; the tenant last, as 0024 explains). The walk of a
-- query's index reads the names that start with it already in answer order,
-- skips duplicates as they come (they are adjacent), and stops after
-- `limit`: 0.5 ms for each of those queries. A query of three letters or
-- more walks the three-letter index and checks the rest of the prefix on
-- each row. When fewer than `limit` names start with the query, every match
-- is read as before.
--
-- The price is on writes and disk: at 1.1 million index rows each index is
-- 109 MB, and rebuilding 1,000 datasets' index rows took 1.9-2.3 s instead
-- of 1.5-1.6 s.

-- The answer's order of kinds: datasets, then glossary terms, then fields.
CREATE FUNCTION mf_suggest_kind_rank(kind text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END
$$;

DROP INDEX search_index_name_start;
CREATE INDEX search_index_suggest_1 ON search_index
    (left(lower(name), 1), length(name), mf_suggest_kind_rank(kind), name COLLATE "C", namespace COLLATE "C",
     dataset COLLATE "C", tenant_id);
CREATE INDEX search_index_suggest_2 ON search_index
    (left(lower(name), 2), length(name), mf_suggest_kind_rank(kind), name COLLATE "C", namespace COLLATE "C",
     dataset COLLATE "C", tenant_id);
CREATE INDEX search_index_suggest_3 ON search_index
    (left(lower(name), 3), length(name), mf_suggest_kind_rank(kind), name COLLATE "C", namespace COLLATE "C",
     dataset COLLATE "C", tenant_id);

/*
 * The first p_limit distinct names of the caller's tenant that start with p_lq (lowercased) and hold
 * every query word at weight A (p_qm), in the answer's order, walked from the index of their first
 * p_k letters. Inlined into its caller, where p_k is a constant, so the planner matches that index;
 * the text match is written `(...) IS TRUE` so the planner walks the index instead of ANDing it
 * with the text index's bitmap of every match.
 */
CREATE FUNCTION mf_suggest_starting(p_lq text, p_k integer, p_qm tsquery, p_limit integer)
RETURNS TABLE (kind text, name text, namespace text, dataset text)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (length(s.name), mf_suggest_kind_rank(s.kind), s.name COLLATE "C", s.namespace COLLATE "C",
                        s.dataset COLLATE "C")
           s.kind, s.name, s.namespace, s.dataset
    FROM search_index s
    WHERE left(lower(s.name), p_k) = left(p_lq, p_k) AND s.tenant_id = mf_current_tenant()
      AND starts_with(lower(s.name), p_lq) AND (ts_filter(s.tsv, '{a}') @@ p_qm) IS TRUE AND mf_search_visible(s)
    ORDER BY length(s.name), mf_suggest_kind_rank(s.kind), s.name COLLATE "C", s.namespace COLLATE "C",
             s.dataset COLLATE "C"
    LIMIT p_limit
$$;

/*
 * Autocomplete: names (A weight) holding every query word, names that start with the query first,
 * then the shortest, then datasets, terms, fields, then by name. When at least p_limit names start
 * with the query, the answer is the walk of mf_suggest_starting; otherwise (a word inside names, a
 * correction, a rare prefix) every match is read and sorted.
 */
CREATE OR REPLACE FUNCTION mf_search_suggest(p_q text, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan
SET jit = off AS $$
DECLARE
    lq text := lower(btrim(p_q));
    qm tsquery;
    starting integer; -- names that start with the query, up to p_limit
    answer jsonb;
BEGIN
    SELECT mf_search_match_query(array_agg(w ORDER BY o), array_agg(alt ORDER BY o), '') INTO qm
    FROM mf_search_words_corrected(p_q);
    IF lq <> '' THEN
        -- one branch runs: the others' one-time conditions are false
        SELECT count(*), jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', w.kind, 'name', w.name,
                                                                          'namespace', w.namespace,
                                                                          'dataset', w.dataset))
                                   ORDER BY length(w.name), mf_suggest_kind_rank(w.kind), w.name COLLATE "C",
                                            w.namespace COLLATE "C", w.dataset COLLATE "C")
        INTO starting, answer
        FROM (SELECT * FROM mf_suggest_starting(lq, 1, qm, p_limit) WHERE length(lq) = 1
              UNION ALL
              SELECT * FROM mf_suggest_starting(lq, 2, qm, p_limit) WHERE length(lq) = 2
              UNION ALL
              SELECT * FROM mf_suggest_starting(lq, 3, qm, p_limit) WHERE length(lq) >= 3) w;
        IF starting >= p_limit THEN
            RETURN answer;
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
        FROM (SELECT d.*, row_number() OVER (ORDER BY starts DESC, length(name), mf_suggest_kind_rank(kind),
                                             name COLLATE "C", namespace COLLATE "C", dataset COLLATE "C") rk
              FROM d) x
        WHERE rk <= p_limit);
END
$$;
