-- 0019_search_lineage_speed: search and lineage at scale (issue 5's speed
-- goals), same answers for the same limits.
--
-- Lineage (0009). A dataset walk keeps its keys as uuid arrays (no text
-- casts; uuids sort and hash cheaply) in mf_graph_walk_datasets, one indexed
-- statement per level as before, about 3-4x faster on a hub; column walks
-- keep 0009's mf_graph_walk. The graph, impact and Marquez answers are built
-- as in 0009 (the same bytes for the same limits). What an answer costs is
-- mostly its size, so the routes' default node limit is smaller
-- (services/api/src/graph.c, docs/api.md): 500 nodes, at most 2,000 on
-- request, with `truncated` when the limit cut the walk short.
--
-- Search (0008). A broad query (thousands of matches) paid for a bitmap of
-- every row of the tenant on top of its matches (a plan the tenant index
-- invited), and for facets over every match: the tenant condition no longer
-- reaches for that index, and facets count the best 1,000 matches
-- (mf_search's p_facet_cap, "facets_exact": false beyond). Autocomplete
-- builds its tsquery once instead of once per candidate row. The page, its
-- order, the total and the suggestions are exactly as before. The index build (every write,
-- and scripts/seed_scale.py's bulk build) makes the same rows in less time:
-- the tsvector of a list of words as one inlined expression, the vocabulary
-- in one statement.

-- ---------- lineage: the walk ----------

/*
 * 0009's mf_graph_walk for dataset keys, with uuid keys: the same nodes,
 * distances, parents, order and truncation. Keys are in uuid order within a
 * level (as 0009's text order of lowercase uuids).
 */
CREATE FUNCTION mf_graph_walk_datasets(p_seeds uuid[], p_first integer, p_dir text, p_depth integer,
                                       p_limit integer, OUT keys uuid[], OUT dists integer[], OUT parents uuid[],
                                       OUT truncated boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    tenant uuid := mf_current_tenant();
    frontier uuid[];
    nxt_keys uuid[];
    nxt_parents uuid[];
    d integer := p_first;
    room integer;
BEGIN
    truncated := false;
    SELECT coalesce(array_agg(DISTINCT s ORDER BY s), '{}') INTO frontier FROM unnest(p_seeds) s;
    IF cardinality(frontier) > p_limit THEN
        frontier := frontier[1:p_limit];
        truncated := true;
    END IF;
    keys := frontier;
    dists := array_fill(p_first, ARRAY[cardinality(frontier)]);
    parents := array_fill(NULL::uuid, ARRAY[cardinality(frontier)]);
    WHILE d < p_depth AND cardinality(frontier) > 0 AND NOT truncated LOOP
        d := d + 1;
        room := p_limit - cardinality(keys);
        IF p_dir = 'down' THEN
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}'), count(*) > room
            INTO nxt_keys, nxt_parents, truncated
            FROM (SELECT DISTINCT ON (e.target_id) e.target_id k, e.source_id p
                  FROM lineage_edges e
                  WHERE e.source_id = ANY (frontier) AND e.tenant_id = tenant
                    AND e.target_id NOT IN (SELECT unnest(keys))
                  ORDER BY e.target_id, e.source_id) x;
        ELSE
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}'), count(*) > room
            INTO nxt_keys, nxt_parents, truncated
            FROM (SELECT DISTINCT ON (e.source_id) e.source_id k, e.target_id p
                  FROM lineage_edges e
                  WHERE e.target_id = ANY (frontier) AND e.tenant_id = tenant
                    AND e.source_id NOT IN (SELECT unnest(keys))
                  ORDER BY e.source_id, e.target_id) x;
        END IF;
        IF truncated THEN
            nxt_keys := nxt_keys[1:room];
            nxt_parents := nxt_parents[1:room];
        END IF;
        keys := keys || nxt_keys;
        dists := dists || array_fill(d, ARRAY[cardinality(nxt_keys)]);
        parents := parents || nxt_parents;
        frontier := nxt_keys;
    END LOOP;
END
$$;

-- 0009's mf_graph_walk_from, dataset and job walks through mf_graph_walk_datasets.
CREATE OR REPLACE FUNCTION mf_graph_walk_from(p_kind text, p_id uuid, p_field text, p_dir text, p_depth integer,
                                              p_limit integer, OUT keys text[], OUT dists integer[], OUT parents text[],
                                              OUT truncated boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    seeds uuid[];
    w record;
BEGIN
    IF p_kind = 'datasetField' THEN
        SELECT * INTO w FROM mf_graph_walk(ARRAY[p_id::text || '/' || p_field], 0, p_dir, true, p_depth, p_limit);
        keys := w.keys;
        parents := w.parents;
    ELSE
        IF p_kind <> 'job' THEN
            SELECT * INTO w FROM mf_graph_walk_datasets(ARRAY[p_id], 0, p_dir, p_depth, p_limit);
        ELSE
            -- a job starts from its inputs (up) or outputs (down) at distance 1
            SELECT coalesce(array_agg(DISTINCT CASE WHEN p_dir = 'down' THEN e.target_id ELSE e.source_id END), '{}')
            INTO seeds FROM lineage_edges e WHERE e.job_id = p_id AND e.tenant_id = mf_current_tenant()
                                              AND p_depth >= 1;
            SELECT * INTO w FROM mf_graph_walk_datasets(seeds, 1, p_dir, p_depth, p_limit);
        END IF;
        keys := w.keys::text[];
        parents := w.parents::text[];
    END IF;
    dists := w.dists;
    truncated := w.truncated;
END
$$;

-- ---------- search ----------
--
-- What changes in 0008's mf_search and mf_search_suggest (the matches, ranking and pages do not):
--
-- * The tenant condition is written `(tenant_id = ...) IS TRUE`, which no index answers: the
--   planner otherwise ANDs the tsv bitmap of a broad query with the (tenant_id, kind) index, a
--   bitmap of every row of the tenant (110,000 entries on a 10,000-dataset tenant, ten times that at
--   100,000 datasets) built on every query. The tsv match alone is far more selective.
-- * Facets count the best p_facet_cap matches (in page order) instead of every match; facets_exact
--   says whether that was all of them. total stays exact: once every match is ranked for the page,
--   counting them is free. (What a broad query still costs is that ranking: a tier and ts_rank per
--   match; bench/README.md.)

/*
 * One search page as 0008's mf_search (items, next_key, facets, total), plus facets_exact: false
 * when there are more than p_facet_cap matches and the facets count only the best p_facet_cap.
 */
DROP FUNCTION mf_search(text, text, text, text, text, text, text, integer, jsonb);
CREATE FUNCTION mf_search(p_q text, p_kind text, p_domain text, p_owner text, p_tag text, p_format text,
                          p_namespace text, p_limit integer, p_after jsonb, p_facet_cap integer)
RETURNS TABLE (items jsonb, next_key jsonb, facets jsonb, total bigint, facets_exact boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH c AS (SELECT array_agg(w ORDER BY o) ws, array_agg(alt ORDER BY o) alts,
                      array_agg(coalesce(alt, w) ORDER BY o) cws,
                      array_remove(array_agg(w) || array_agg(alt), NULL) marks
               FROM mf_search_words_corrected(p_q)),
    q AS (SELECT mf_search_query(ws, alts, '') qa, mf_search_query(ws, alts, 'A') q_a,
                 mf_search_query(ws, alts, 'AB') q_ab, marks, lower(btrim(p_q)) lq, ws, cws FROM c),
    m AS (
        SELECT s.*, q.marks,
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
    page AS (
        SELECT k.*, row_number() OVER (ORDER BY si DESC, ko, name COLLATE "C", id) rn FROM k
        WHERE p_after IS NULL
           OR si < (p_after->>0)::bigint
           OR (si = (p_after->>0)::bigint
               AND (ko, name COLLATE "C", id) > ((p_after->>1)::int, (p_after->>2) COLLATE "C", (p_after->>3)::bigint))
        ORDER BY si DESC, ko, name COLLATE "C", id LIMIT p_limit + 1),
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

-- Autocomplete as 0008's, with the tenant condition as in mf_search above, and its tsquery made once:
-- 0008 wrote the mf_search_query(...) call into the match, so every candidate row the index offers
-- (every row holding a word with that prefix, at any weight) evaluated it again when rechecked.
CREATE OR REPLACE FUNCTION mf_search_suggest(p_q text, p_limit integer) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH c AS (SELECT mf_search_query(array_agg(w ORDER BY o), array_agg(alt ORDER BY o), 'A') qa
               FROM mf_search_words_corrected(p_q)),
    m AS (
        SELECT s.kind, s.name, s.namespace, s.dataset,
               starts_with(lower(s.name), lower(btrim(p_q))) AS starts
        FROM search_index s, c
        WHERE (s.tenant_id = mf_current_tenant()) IS TRUE AND s.tsv @@ c.qa AND mf_search_visible(s)),
    d AS (SELECT DISTINCT ON (kind, name, namespace, dataset) * FROM m)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'name', name, 'namespace', namespace,
                                                                   'dataset', dataset)) ORDER BY rk), '[]')
    FROM (SELECT d.*, row_number() OVER (ORDER BY starts DESC, length(name),
                                         CASE kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END,
                                         name COLLATE "C", namespace COLLATE "C", dataset COLLATE "C") rk FROM d) x
    WHERE rk <= p_limit
$$;

-- ---------- the index build ----------

-- 0008's mf_search_tsv, the same tsvector: one scalar expression (an ARRAY of the lexemes, joined
-- and parsed once), which the planner inlines into the caller, instead of a query with an aggregate
-- run per call; about 4x faster, and it runs three times per index row.
CREATE OR REPLACE FUNCTION mf_search_tsv(p_words text[], p_weight text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_string(ARRAY(
               SELECT '''' || replace(replace(w, '\', '\\'), '''', '''''') || ''':' || least(o, 16383) || p_weight
               FROM unnest(p_words[1:8000]) WITH ORDINALITY x(w, o)
               WHERE w <> '' AND octet_length(w) <= 2000 -- a lexeme's limit
               ORDER BY o), ' ')::tsvector
$$;

-- 0008's rebuild of these datasets' rows, the vocabulary added set-based: about a quarter of what a
-- bulk build (scripts/seed_scale.py) or a wide schema's write spent.
CREATE OR REPLACE FUNCTION mf_search_index_datasets(p_ids uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM search_index WHERE dataset_id = ANY (p_ids);
    WITH d AS (
        SELECT d.*, dm.name AS domain_name, o.name AS owner_name,
               coalesce((SELECT array_agg(f.name ORDER BY f.ordinal) FROM fields f WHERE f.dataset_id = d.id), '{}') fnames,
               coalesce((SELECT array_agg(DISTINCT t) FROM fields f, unnest(f.tags) t WHERE f.dataset_id = d.id), '{}') ftags,
               coalesce((SELECT array_agg(DISTINCT g.name) FROM glossary_links l JOIN glossary_terms g ON g.id = l.term_id
                         WHERE l.dataset_id = d.id), '{}') terms
        FROM datasets d LEFT JOIN domains dm ON dm.id = d.domain_id LEFT JOIN owners o ON o.id = d.owner_id
        WHERE d.id = ANY (p_ids))
    INSERT INTO search_index (tenant_id, kind, dataset_id, domain_id, name, namespace, dataset, domain, owner, format,
                              tags, matches_b, description, tsv)
    SELECT d.tenant_id, 'dataset', d.id, d.domain_id, d.name, d.namespace, NULL, d.domain_name, d.owner_name, d.format,
           d.tags, d.fnames || d.tags || d.terms, d.description,
           mf_search_tsv(mf_search_name_words(ARRAY[d.name]), 'A')
           || mf_search_tsv(mf_search_name_words(d.fnames || d.tags || d.ftags || d.terms), 'B')
           || mf_search_tsv(mf_search_words(concat_ws(' ', d.description, d.owner_name, d.domain_name, d.namespace)), 'C')
    FROM d;
    INSERT INTO search_index (tenant_id, kind, dataset_id, domain_id, name, namespace, dataset, domain, owner, format,
                              tags, matches_b, description, tsv)
    SELECT f.tenant_id, 'field', d.id, d.domain_id, f.name, d.namespace, d.name, dm.name, o.name, d.format,
           f.tags, f.tags || t.terms, f.description,
           mf_search_tsv(mf_search_name_words(ARRAY[f.name]), 'A')
           || mf_search_tsv(mf_search_name_words(f.tags || t.terms), 'B')
           || mf_search_tsv(mf_search_words(f.description), 'C')
    FROM fields f JOIN datasets d ON d.id = f.dataset_id
    LEFT JOIN domains dm ON dm.id = d.domain_id LEFT JOIN owners o ON o.id = d.owner_id
    CROSS JOIN LATERAL (SELECT coalesce(array_agg(g.name), '{}') terms FROM glossary_links l
                        JOIN glossary_terms g ON g.id = l.term_id
                        WHERE l.dataset_id = f.dataset_id AND l.field_name = f.name) t
    WHERE f.dataset_id = ANY (p_ids);
    -- the vocabulary in one statement (0008 ran one INSERT per dataset and per field)
    INSERT INTO search_vocab (tenant_id, word)
    SELECT DISTINCT x.tenant_id, w
    FROM (SELECT d.tenant_id, ARRAY[d.name] || d.tags names FROM datasets d WHERE d.id = ANY (p_ids)
          UNION ALL
          SELECT f.tenant_id, ARRAY[f.name] || f.tags FROM fields f WHERE f.dataset_id = ANY (p_ids)) x,
         unnest(mf_search_name_words(x.names)) w
    WHERE w ~ '^[[:alnum:]]{2,64}$'
    ON CONFLICT DO NOTHING;
END
$$;
