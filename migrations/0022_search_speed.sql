-- 0022_search_speed: search and suggest compute their query once, and
-- suggest reads an index of names only. Answers are the same (checked with
-- hashes of pages, facets and suggestions at 20,000 datasets a tenant).
--
-- 1. mf_search (0019) built its tsqueries in a CTE the planner inlined into
--    the match: mf_search_query ran again for every matching row, three times
--    (the rank and the two tiers). A prefix matching 14,000 rows of a
--    20,000-dataset tenant took 500 ms, 360 of them making the same three
--    queries. The CTE is now MATERIALIZED (computed once). The matches carry
--    only the columns the page and facets use (not the tsvector), and the page
--    is cut by a bounded top-N sort before its rows are numbered: sorting every
--    wide match spilled to disk. The same search: 110 ms.
-- 2. mf_search_suggest (0019) had the same inlined query, and matched names
--    through the whole tsvector index: a weight (A, the names) is not in a GIN
--    entry, so every row with the prefix anywhere (descriptions) was fetched
--    and rechecked: 52,000 rows for 2,360 matches of "sup". An index of the
--    names alone (ts_filter(tsv, '{a}')) offers only the matches: 55 to 19 ms
--    there, 43 to 10 ms for "financ". Each index row costs one more GIN entry
--    set on writes (names only: the smallest part of a vector).

CREATE INDEX search_index_names ON search_index USING gin (ts_filter(tsv, '{a}'));

CREATE OR REPLACE FUNCTION mf_search(p_q text, p_kind text, p_domain text, p_owner text, p_tag text, p_format text,
                          p_namespace text, p_limit integer, p_after jsonb, p_facet_cap integer)
RETURNS TABLE (items jsonb, next_key jsonb, facets jsonb, total bigint, facets_exact boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH c AS (SELECT array_agg(w ORDER BY o) ws, array_agg(alt ORDER BY o) alts,
                      array_agg(coalesce(alt, w) ORDER BY o) cws,
                      array_remove(array_agg(w) || array_agg(alt), NULL) marks
               FROM mf_search_words_corrected(p_q)),
    q AS MATERIALIZED (SELECT mf_search_query(ws, alts, '') qa, mf_search_query(ws, alts, 'A') q_a,
                 mf_search_query(ws, alts, 'AB') q_ab, marks, lower(btrim(p_q)) lq, ws, cws FROM c),
    m AS (
        SELECT s.id, s.kind, s.name, s.namespace, s.dataset, s.domain, s.owner, s.format, s.tags, s.matches_b,
               s.description, s.name_words, q.marks,
               CASE WHEN lower(s.name) = q.lq OR lower(s.namespace || '.' || s.name) = q.lq
                         OR lower(s.namespace || '/' || s.name) = q.lq
                         OR (s.name_words = cardinality(q.ws) AND mf_search_words(s.name) IN (q.ws, q.cws)) THEN 'exact'
                    WHEN s.tsv @@ q.q_a THEN 'name' WHEN s.tsv @@ q.q_ab THEN 'related' ELSE 'text' END AS hit,
               ts_rank(s.tsv, q.qa, 32) AS r
        FROM search_index s, q
        WHERE (s.tenant_id = mf_current_tenant()) IS TRUE AND s.tsv @@ q.qa AND mf_search_visible(s)
          AND (p_kind IS NULL OR s.kind = p_kind)
          AND (p_domain IS NULL OR s.domain = p_domain)
          AND (p_owner IS NULL OR s.owner = p_owner)
          AND (p_tag IS NULL OR s.tags @> ARRAY[p_tag])
          AND (p_format IS NULL OR s.format = p_format)
          AND (p_namespace IS NULL OR s.namespace = p_namespace)),
    k AS (
        SELECT m.*, round(1000000 * (
                   CASE m.kind
                       WHEN 'dataset' THEN CASE m.hit WHEN 'exact' THEN 6 WHEN 'name' THEN 4 WHEN 'related' THEN 2 ELSE 0 END
                       WHEN 'term' THEN CASE m.hit WHEN 'exact' THEN 5 WHEN 'name' THEN 3 ELSE 0 END
                       ELSE CASE m.hit WHEN 'exact' THEN 1.5 WHEN 'name' THEN 1.5 WHEN 'related' THEN 1 ELSE 0 END END
                   -- within a tier: text rank, and names of fewer words (the more specific) first
                   + 0.5 * least(m.r, 0.99) + 0.49 / (1 + m.name_words)))::bigint AS si,
               CASE m.kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END AS ko
        FROM m),
    -- the page's rows first (a bounded top-N sort), then their numbers
    page AS (
        SELECT x.*, row_number() OVER (ORDER BY si DESC, ko, name COLLATE "C", id) rn FROM (
            SELECT k.* FROM k
            WHERE p_after IS NULL
               OR si < (p_after->>0)::bigint
               OR (si = (p_after->>0)::bigint
                   AND (ko, name COLLATE "C", id) > ((p_after->>1)::int, (p_after->>2) COLLATE "C", (p_after->>3)::bigint))
            ORDER BY si DESC, ko, name COLLATE "C", id LIMIT p_limit + 1) x),
    items AS (
        SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                   'kind', p.kind, 'name', p.name, 'namespace', p.namespace, 'dataset', p.dataset,
                   'domain', p.domain, 'owner', p.owner, 'format', nullif(p.format, ''),
                   'tags', CASE WHEN p.kind <> 'term' THEN to_jsonb(p.tags) END,
                   'description', p.description,
                   'match', CASE WHEN p.hit IN ('exact', 'name') THEN 'name'
                                 WHEN p.hit = 'related' THEN CASE p.kind WHEN 'dataset' THEN 'fields_tags_terms'
                                                                         ELSE 'tags_terms' END
                                 ELSE 'description' END,
                   'score', round((p.si / 1000000.0)::numeric, 4),
                   'snippet', mf_search_mark(CASE
                       WHEN p.hit IN ('exact', 'name') THEN
                           CASE p.kind WHEN 'dataset' THEN p.namespace || '/' || p.name
                                       WHEN 'field' THEN p.dataset || '.' || p.name ELSE p.name END
                       WHEN p.hit = 'related' THEN
                           array_to_string(ARRAY(SELECT DISTINCT b FROM unnest(p.matches_b) b
                                                 WHERE coalesce(cardinality(p.marks), 0) > 0
                                                   AND b ~* ('(' || array_to_string(p.marks, '|') || ')')
                                                 ORDER BY b LIMIT 5), ', ')
                       ELSE left(concat_ws(' · ', nullif(p.description, ''), 'domain ' || p.domain,
                                           'owner ' || p.owner, 'namespace ' || p.namespace), 300) END, p.marks)))
                   ORDER BY p.rn) FILTER (WHERE p.rn <= p_limit), '[]') AS items,
               CASE WHEN count(*) > p_limit THEN
                   (array_agg(jsonb_build_array(p.si, p.ko, p.name, p.id) ORDER BY p.rn))[p_limit] END AS next_key
        FROM page p),
    -- facets over the best p_facet_cap matches, in page order
    top AS (SELECT * FROM k ORDER BY si DESC, ko, name COLLATE "C", id LIMIT p_facet_cap),
    f AS (
        SELECT jsonb_build_object(
            'kind', mf_search_facet(array_agg(kind)),
            'domain', mf_search_facet(array_agg(domain)),
            'owner', mf_search_facet(array_agg(owner)),
            'format', mf_search_facet(array_agg(nullif(format, ''))),
            'namespace', mf_search_facet(array_agg(namespace)),
            'tag', (SELECT mf_search_facet(array_agg(t)) FROM top, unnest(top.tags) t)) AS facets
        FROM top)
    SELECT items.items, items.next_key, f.facets, n.total, n.total <= p_facet_cap
    FROM items, f, (SELECT count(*) AS total FROM m) n
$$;

CREATE OR REPLACE FUNCTION mf_search_suggest(p_q text, p_limit integer) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH c AS MATERIALIZED (SELECT mf_search_query(array_agg(w ORDER BY o), array_agg(alt ORDER BY o), 'A') qa
               FROM mf_search_words_corrected(p_q)),
    m AS (
        SELECT s.kind, s.name, s.namespace, s.dataset,
               starts_with(lower(s.name), lower(btrim(p_q))) AS starts
        FROM search_index s, c
        WHERE (s.tenant_id = mf_current_tenant()) IS TRUE AND ts_filter(s.tsv, '{a}') @@ c.qa
          AND mf_search_visible(s)),
    d AS (SELECT DISTINCT ON (kind, name, namespace, dataset) * FROM m)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'name', name, 'namespace', namespace,
                                                                   'dataset', dataset)) ORDER BY rk), '[]')
    FROM (SELECT d.*, row_number() OVER (ORDER BY starts DESC, length(name),
                                         CASE kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END,
                                         name COLLATE "C", namespace COLLATE "C", dataset COLLATE "C") rk FROM d) x
    WHERE rk <= p_limit
$$;
