-- 0027_search_graph_sorts: a typo search costs a sixth less and a graph
-- around a hub a tenth, with the same answers (the same pages, facets and
-- totals, the same nodes and edges in the same order, byte for byte).
--
-- Search (0024's mf_search). "finance suppiers" at 100,000 datasets a tenant
-- (1,347 matches) took 11.3 ms in SQL; 9.6 now (medians of 25 calls of each,
-- interleaved, one client).
--
-- * Facets count the best 1,000 matches, found by sorting the matches on the
--   page order. The sort's rows carried every column of the match with the
--   sort keys last, so each comparison of two rows whose first keys tie
--   walked both rows' columns to reach the name: 1.8 ms. With the keys first
--   and only the facets' columns after them, 0.8 ms. (A sort on the first
--   key alone costs nothing measurable: the cost is reaching the later keys.)
-- * The tier numbers were numeric (1.5), so every match's score converted a
--   numeric to float8 twice, through its text: 0.6 ms. They are float8 now.
--   Every tier number and the 0.5 weight are exact in binary; the name-length
--   term 0.49 / (1 + words) can differ from the numeric quotient in its last
--   bit, which moves a score only if it lies within 1e-9 of a half before
--   rounding to the integer it is sorted by.
-- * The tags facet unnests in the select list instead of a function scan per
--   match: 0.4 ms.
--
-- Graph (0024's mf_lineage_graph). A graph of 500 nodes and 502 edges around
-- a hub took 11.6 ms in SQL; 10.5 now.
--
-- * Nodes and edges were sorted inside json_agg, where the sort's rows are
--   the built JSON followed by the keys, which each comparison had to reach
--   past the JSON. They are sorted first, in a subquery with the keys first,
--   and built in that order: 1.2 ms.
-- * The node distances joined by id instead of a JSON map built for the
--   lookup; the edges keep those whose target is in the datasets' map, which
--   holds the same nodes: 0.3 ms.
-- * The edges' jobs are read by primary key, here and in the Marquez answer
--   (0009's mf_lineage_marquez). The condition `id IN (the edges' jobs) OR
--   id = the start job` had the planner read every job of the tenant and
--   test each: a graph of 9 nodes in a tenant of 20,000 jobs took 12.4 ms,
--   now 1.4 ms.
--
-- Checked equal to 0024's functions on the scale seed: 97 queries (vocabulary
-- words, prefixes and typos, dotted and slashed names, quotes, empty) with
-- no filter, a kind, a domain or a tag, three pages each (twice, with other
-- random words); graphs of 40 random datasets and the 20 named like the hubs,
-- up, down and both, depth 0 to 3, at limits 7, 500 and 2,000. The jobs read
-- by key: graphs and Marquez answers from datasets and from jobs, equal to
-- the earlier functions', on a tenant given 20,000 jobs.

-- 0024's search: the tier numbers in float8, the facets' sort with its keys first, the tags unnested
-- in the select list.
CREATE OR REPLACE FUNCTION mf_search(p_q text, p_kind text, p_domain text, p_owner text, p_tag text, p_format text,
                          p_namespace text, p_limit integer, p_after jsonb, p_facet_cap integer)
RETURNS TABLE (items jsonb, next_key jsonb, facets jsonb, total bigint, facets_exact boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan
    SET jit = off AS $$
#variable_conflict use_column
DECLARE
    v_tenant uuid := mf_current_tenant(); -- once, not once per row
BEGIN
RETURN QUERY
    WITH wc AS MATERIALIZED (SELECT * FROM mf_search_words_corrected(p_q)),
    c AS (SELECT array_agg(w ORDER BY o) ws, array_agg(alt ORDER BY o) alts,
                      array_agg(coalesce(alt, w) ORDER BY o) cws,
                      array_remove(array_agg(w) || array_agg(alt), NULL) marks
               FROM wc),
    q AS MATERIALIZED (SELECT mf_search_query(ws, alts, '') qa, mf_search_match_query(ws, alts, '') qm,
                 mf_search_query(ws, alts, 'A') q_a,
                 mf_search_query(ws, alts, 'AB') q_ab, marks, lower(btrim(p_q)) lq, ws, cws,
                 strpos(p_q, '.') > 0 has_dot, strpos(p_q, '/') > 0 has_slash,
                 mf_search_words_query(ws) qw, mf_search_words_query(cws) qcw FROM c),
    m AS (
        SELECT s.id, s.kind, s.name, s.namespace, s.domain, s.owner, s.format, s.tags, s.name_words,
               CASE WHEN lower(s.name) = q.lq OR (q.has_dot AND lower(s.namespace || '.' || s.name) = q.lq)
                         OR (q.has_slash AND lower(s.namespace || '/' || s.name) = q.lq)
                         OR (s.name_words = cardinality(q.ws) AND (cardinality(q.ws) = 0 OR s.tsv @@ q.qw OR s.tsv @@ q.qcw)
                             AND mf_search_words(s.name) IN (q.ws, q.cws)) THEN 'exact'
                    WHEN s.tsv @@ q.q_a THEN 'name' WHEN s.tsv @@ q.q_ab THEN 'related' ELSE 'text' END AS hit,
               ts_rank(s.tsv, q.qa, 32) AS r
        FROM search_index s, q
        WHERE s.tenant_id = v_tenant AND s.tsv @@ q.qm AND mf_search_visible(s)
          AND (p_kind IS NULL OR s.kind = p_kind)
          AND (p_domain IS NULL OR s.domain = p_domain)
          AND (p_owner IS NULL OR s.owner = p_owner)
          AND (p_tag IS NULL OR s.tags @> ARRAY[p_tag])
          AND (p_format IS NULL OR s.format = p_format)
          AND (p_namespace IS NULL OR s.namespace = p_namespace)),
    k AS (
        SELECT m.*, round(1000000 * (
                   CASE m.kind
                       WHEN 'dataset' THEN CASE m.hit WHEN 'exact' THEN 6.0::float8 WHEN 'name' THEN 4 WHEN 'related' THEN 2 ELSE 0 END
                       WHEN 'term' THEN CASE m.hit WHEN 'exact' THEN 5.0::float8 WHEN 'name' THEN 3 ELSE 0 END
                       ELSE CASE m.hit WHEN 'exact' THEN 1.5::float8 WHEN 'name' THEN 1.5 WHEN 'related' THEN 1 ELSE 0 END END
                   -- within a tier: text rank, and names of fewer words (the more specific) first
                   + 0.5 * least(m.r, 0.99) + 0.49::float8 / (1 + m.name_words)))::bigint AS si,
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
                   'match', CASE WHEN x.hit IN ('exact', 'name') THEN 'name'
                                 WHEN x.hit = 'related' THEN CASE p.kind WHEN 'dataset' THEN 'fields_tags_terms'
                                                                         ELSE 'tags_terms' END
                                 ELSE 'description' END,
                   'score', round((x.si / 1000000.0)::numeric, 4),
                   'snippet', mf_search_mark(CASE
                       WHEN x.hit IN ('exact', 'name') THEN
                           CASE p.kind WHEN 'dataset' THEN p.namespace || '/' || p.name
                                       WHEN 'field' THEN p.dataset || '.' || p.name ELSE p.name END
                       WHEN x.hit = 'related' THEN
                           array_to_string(ARRAY(SELECT DISTINCT b FROM unnest(p.matches_b) b
                                                 WHERE coalesce(cardinality(q.marks), 0) > 0
                                                   AND b ~* ('(' || array_to_string(q.marks, '|') || ')')
                                                 ORDER BY b LIMIT 5), ', ')
                       ELSE left(concat_ws(' · ', nullif(p.description, ''), 'domain ' || p.domain,
                                           'owner ' || p.owner, 'namespace ' || p.namespace), 300) END, q.marks)))
                   ORDER BY x.rn) FILTER (WHERE x.rn <= p_limit), '[]') AS items,
               CASE WHEN count(*) > p_limit THEN
                   (array_agg(jsonb_build_array(x.si, x.ko, p.name, p.id) ORDER BY x.rn))[p_limit] END AS next_key
        FROM page x JOIN search_index p ON p.tenant_id = v_tenant AND p.id = x.id, q),
    -- facets over the best p_facet_cap matches, in page order (the sort keys first: see the top of 0027)
    top AS (SELECT k.si, k.ko, k.name, k.id, k.kind, k.domain, k.owner, k.format, k.namespace, k.tags
            FROM k ORDER BY si DESC, ko, name COLLATE "C", id LIMIT p_facet_cap),
    -- every facet in one pass over those matches (grouping sets, and the tags), the 20 most frequent
    -- values of each facet (then by value), '[]' for a facet with none: what 0008's mf_search_facet
    -- gave, called six times over one array each
    fv AS (
        SELECT CASE WHEN GROUPING(t.kind) = 0 THEN 'kind' WHEN GROUPING(t.domain) = 0 THEN 'domain'
                    WHEN GROUPING(t.owner) = 0 THEN 'owner' WHEN GROUPING(t.format) = 0 THEN 'format'
                    ELSE 'namespace' END AS facet,
               coalesce(t.kind, t.domain, t.owner, t.format, t.namespace) AS v, count(*) AS n
        FROM (SELECT top.kind, top.domain, top.owner, nullif(top.format, '') AS format, top.namespace FROM top) t
        GROUP BY GROUPING SETS ((t.kind), (t.domain), (t.owner), (t.format), (t.namespace))
        UNION ALL
        SELECT 'tag', t.u, count(*) FROM (SELECT unnest(top.tags) u FROM top) t GROUP BY t.u),
    fr AS (SELECT fv.*, row_number() OVER (PARTITION BY fv.facet ORDER BY fv.n DESC, fv.v) AS rk
           FROM fv WHERE fv.v IS NOT NULL),
    f AS (
        SELECT jsonb_object_agg(names.facet, coalesce(a.vals, '[]')) AS facets
        FROM (VALUES ('kind'), ('domain'), ('owner'), ('format'), ('namespace'), ('tag')) names(facet)
        LEFT JOIN (SELECT fr.facet, jsonb_agg(jsonb_build_object('value', fr.v, 'count', fr.n) ORDER BY fr.n DESC, fr.v)
                              AS vals
                   FROM fr WHERE fr.rk <= 20 GROUP BY fr.facet) a ON a.facet = names.facet)
    SELECT items.items, items.next_key, f.facets, n.total, n.total <= p_facet_cap
    FROM items, f, (SELECT count(*) AS total FROM m) n;
END
$$;


-- 0024's graph: the distances joined to the datasets instead of looked up in a JSON map, edges kept
-- by the datasets' map, jobs read by key, and both lists sorted before their JSON is built (see the
-- top of this file).
CREATE OR REPLACE FUNCTION mf_lineage_graph(p_node text, p_depth integer, p_dir text, p_limit integer) RETURNS json
LANGUAGE plpgsql STABLE SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    g record;
    v_nodes json;
    v_edges json;
    v_set jsonb;
    v_ids uuid[];
    v_names jsonb;
    v_datasets json;
BEGIN
    SELECT * INTO g FROM mf_graph_collect(p_node, p_depth, p_dir, p_limit);
    IF g.kind <> 'datasetField' THEN
        -- set-based: the nodes' rows by primary key, their edges by the
        -- (source_id, target_id) index (= ANY), names and membership through
        -- JSON lookups, so the plan does not depend on statistics
        v_ids := g.keys::uuid[];
        -- the datasets once, by primary key: their node ids (for the edges) and their nodes, in order
        -- (sorted on the keys, which come first, before the nodes are built; aggregates read a sorted
        -- subquery in its order)
        SELECT coalesce(jsonb_object_agg(x.id::text, x.nid), '{}'),
               coalesce(json_agg(json_build_object('id', x.nid, 'type', 'dataset', 'distance', x.dist,
                                                   'data', x.data)), '[]')
        INTO v_names, v_datasets
        FROM (SELECT n.dist, d.namespace, d.name, d.id, mf_graph_dataset_id(d.namespace, d.name) nid,
                     d.graph_data data
              FROM unnest(v_ids, g.dists) n(id, dist) JOIN datasets d ON d.id = n.id
              WHERE d.tenant_id = mf_current_tenant()
              ORDER BY 1, 2, 3) x;
        -- the walk's nodes are the datasets above (a walk only follows edges the caller sees, and
        -- those join datasets the caller sees), so v_names is the set of nodes
        WITH e AS MATERIALIZED (
            SELECT e.id, e.job_id, v_names->>e.source_id::text f, v_names->>e.target_id::text t
            FROM lineage_edges e
            WHERE e.source_id = ANY (v_ids) AND e.tenant_id = mf_current_tenant() AND v_names ? e.target_id::text),
        -- the edges' jobs (and a start job) by primary key
        j AS MATERIALIZED (SELECT j.id, j.namespace, j.name, j.description, mf_graph_job_id(j.namespace, j.name) nid
              FROM jobs j
              WHERE j.id IN (SELECT e.job_id FROM e UNION SELECT g.start_id WHERE g.kind = 'job')),
        je AS (SELECT DISTINCT e.f, j.nid t, 'input' ty FROM e JOIN j ON j.id = e.job_id
               UNION SELECT DISTINCT j.nid, e.t, 'output' FROM e JOIN j ON j.id = e.job_id)
        SELECT
            -- jobs (by name) come before the datasets
            mf_json_array_concat(
                (SELECT json_agg(json_build_object('id', j.nid, 'type', 'job',
                                                   'distance', CASE WHEN j.id = g.start_id THEN 0 END,
                                                   'data', json_build_object('namespace', j.namespace, 'name', j.name,
                                                                             'description', j.description))
                                 ORDER BY j.namespace, j.name) FROM j),
                v_datasets),
            -- lineage edges, then the job edges (input, output), each by (from, to), sorted as the nodes
            (SELECT coalesce(json_agg(CASE x.grp
                                          WHEN 0 THEN json_build_object('from', x.f, 'to', x.t, 'type', 'lineage',
                                                                        'edge_id', x.id, 'job', x.job)
                                          ELSE json_build_object('from', x.f, 'to', x.t, 'type', x.ty) END), '[]')
             FROM (SELECT 0 grp, e.f, e.t, e.id, j.nid job, NULL ty FROM e LEFT JOIN j ON j.id = e.job_id
                   UNION ALL
                   SELECT 1, je.f, je.t, NULL, NULL, je.ty FROM je
                   ORDER BY 1, 2, 3) x)
        INTO v_nodes, v_edges;
    ELSE
        v_ids := ARRAY(SELECT DISTINCT substr(k, 1, 36)::uuid FROM unnest(g.keys) k);
        SELECT coalesce(jsonb_object_agg(k, true), '{}') INTO v_set FROM unnest(g.keys) k;
        SELECT coalesce(jsonb_object_agg(d.id::text, jsonb_build_array(d.namespace, d.name)), '{}') INTO v_names
        FROM datasets d WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant();
        SELECT
            (SELECT coalesce(json_agg(json_build_object(
                        'id', mf_graph_field_id(d.namespace, d.name, substr(n.k, 38)), 'type', 'datasetField',
                        'distance', n.dist,
                        'data', json_build_object('namespace', d.namespace, 'name', d.name, 'field', substr(n.k, 38),
                                                  'type', (SELECT f.type FROM fields f WHERE f.dataset_id = d.id
                                                             AND f.name = substr(n.k, 38)),
                                                  'dataset', mf_graph_dataset_id(d.namespace, d.name)))
                        ORDER BY n.dist, d.namespace, d.name, substr(n.k, 38)), '[]')
             FROM unnest(g.keys, g.dists) n(k, dist) JOIN datasets d ON d.id = substr(n.k, 1, 36)::uuid
             WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant()),
            (SELECT coalesce(json_agg(json_build_object(
                        'from', mf_graph_field_id(x.sns, x.sn, x.source_field),
                        'to', mf_graph_field_id(x.tns, x.tn, x.target_field),
                        'type', 'column', 'edge_id', x.id, 'transformation', x.transformation,
                        'expression', x.expression,
                        'job', (SELECT mf_graph_job_id(j.namespace, j.name) FROM jobs j WHERE j.id = x.job_id))
                        ORDER BY x.sns, x.sn, x.source_field, x.tns, x.tn, x.target_field), '[]')
             FROM (SELECT e.id, e.job_id, c.source_field, c.target_field, c.transformation, c.expression,
                          v_names->e.source_id::text->>0 sns, v_names->e.source_id::text->>1 sn,
                          v_names->e.target_id::text->>0 tns, v_names->e.target_id::text->>1 tn
                   FROM lineage_edges e JOIN column_lineage c ON c.edge_id = e.id
                   WHERE e.source_id = ANY (v_ids) AND e.tenant_id = mf_current_tenant()
                     AND v_set ? (e.source_id::text || '/' || c.source_field)
                     AND v_set ? (e.target_id::text || '/' || c.target_field)) x)
        INTO v_nodes, v_edges;
    END IF;
    RETURN json_build_object('node', g.node_id, 'depth', p_depth, 'direction', p_dir,
                             'nodes', v_nodes, 'edges', v_edges, 'truncated', g.truncated);
END
$$;

-- 0009's Marquez answer, its jobs read by key as the graph's above.
CREATE OR REPLACE FUNCTION mf_lineage_marquez(p_node text, p_depth integer, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SET jit = off AS $$
DECLARE
    g record;
    v_out jsonb;
    v_set jsonb;
    v_ids uuid[];
    v_names jsonb;
BEGIN
    IF p_node LIKE 'datasetField:%' THEN
        PERFORM mf_raise('400', 'nodeId: a datasetField node has no Marquez lineage graph; '
                                'use GET /api/v1/lineage/graph?node=datasetField:...');
    END IF;
    SELECT * INTO g FROM mf_graph_collect(p_node, p_depth, 'both', p_limit);
    v_ids := g.keys::uuid[];
    SELECT coalesce(jsonb_object_agg(k, true), '{}') INTO v_set FROM unnest(g.keys) k;
    SELECT coalesce(jsonb_object_agg(d.id::text, mf_graph_dataset_id(d.namespace, d.name)), '{}') INTO v_names
    FROM datasets d WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant();
    WITH n AS MATERIALIZED (
        SELECT d.*, v_names->>d.id::text nid
        FROM datasets d WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant()),
    e AS MATERIALIZED (
        SELECT e.id, e.job_id, v_names->>e.source_id::text f, v_names->>e.target_id::text t
        FROM lineage_edges e
        WHERE e.source_id = ANY (v_ids) AND e.tenant_id = mf_current_tenant() AND v_set ? e.target_id::text),
    j AS (SELECT j.*, mf_graph_job_id(j.namespace, j.name) nid
          FROM jobs j WHERE j.id IN (SELECT e.job_id FROM e UNION SELECT g.start_id WHERE g.kind = 'job')),
    x AS (SELECT e.f origin, e.t destination FROM e WHERE e.job_id IS NULL
          UNION SELECT e.f, j.nid FROM e JOIN j ON j.id = e.job_id
          UNION SELECT j.nid, e.t FROM e JOIN j ON j.id = e.job_id),
    nodes AS (
        SELECT n.nid, 'DATASET' ty,
               jsonb_build_object('id', jsonb_build_object('namespace', n.namespace, 'name', n.name),
                                  'type', 'DB_TABLE', 'namespace', n.namespace, 'name', n.name,
                                  'description', nullif(n.description, ''), 'tags', to_jsonb(n.tags),
                                  'fields', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', f.name, 'type', f.type,
                                                                                          'description', nullif(f.description, ''))
                                                                       ORDER BY f.ordinal), '[]')
                                             FROM fields f WHERE f.dataset_id = n.id),
                                  'updatedAt', mf_ts(n.updated_at)) data
        FROM n
        UNION ALL
        SELECT j.nid, 'JOB',
               jsonb_build_object('id', jsonb_build_object('namespace', j.namespace, 'name', j.name),
                                  'type', 'BATCH', 'namespace', j.namespace, 'name', j.name,
                                  'description', nullif(j.description, ''),
                                  'inputs', (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('namespace', d.namespace, 'name', d.name)), '[]')
                                             FROM lineage_edges le JOIN datasets d ON d.id = le.source_id WHERE le.job_id = j.id),
                                  'outputs', (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('namespace', d.namespace, 'name', d.name)), '[]')
                                              FROM lineage_edges le JOIN datasets d ON d.id = le.target_id WHERE le.job_id = j.id),
                                  'updatedAt', mf_ts(j.updated_at)) data
        FROM j),
    -- edges by node as one object each: a lookup per node, whatever the statistics
    ins AS (SELECT coalesce(jsonb_object_agg(nid, l), '{}') o FROM (
                SELECT destination nid, jsonb_agg(jsonb_build_object('origin', origin, 'destination', destination)
                                                  ORDER BY origin) l FROM x GROUP BY destination) y),
    outs AS (SELECT coalesce(jsonb_object_agg(nid, l), '{}') o FROM (
                 SELECT origin nid, jsonb_agg(jsonb_build_object('origin', origin, 'destination', destination)
                                              ORDER BY destination) l FROM x GROUP BY origin) y)
    SELECT jsonb_build_object('graph', coalesce(jsonb_agg(jsonb_build_object(
               'id', nodes.nid, 'type', nodes.ty, 'data', nodes.data,
               'inEdges', coalesce(ins.o -> nodes.nid, '[]'), 'outEdges', coalesce(outs.o -> nodes.nid, '[]'))
               ORDER BY nodes.ty, nodes.nid), '[]'),
           'truncated', g.truncated)
    INTO v_out FROM nodes, ins, outs;
    RETURN v_out;
END
$$;
