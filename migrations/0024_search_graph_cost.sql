-- 0024_search_graph_cost: a typo search costs a third less and a graph around
-- a hub half, with the same answers (the same search pages, facets and
-- totals, graph nodes and edges, in the same order).
--
-- Search (0023's mf_search). A broad query ranks every match: "finance
-- suppiers" at 100,000 datasets a tenant matches 1,433 rows and took 18 ms,
-- of which the ranking's per-row work was the larger part.
--
-- * The exact-name tier split every match's name into words
--   (mf_search_words: two regular expressions) when the name had as many
--   words as the query. A name whose words are the query's words holds each
--   of them whole at weight A (both index builders, datasets and terms, put
--   a name's words at A), so the tsvector is asked first (q.qw, q.qcw: the
--   words whole at A, ANDed); only names that pass are split. 3 ms of the 18.
-- * `namespace.name` and `namespace/name` can only equal a query that holds a
--   `.` or a `/`; lower() of both is no longer computed for every match of
--   a query without one. 1 ms.
-- * The matches carry only what ranking and facets read; a page's twenty
--   rows fetch their description, dataset and matched names by key
--   afterwards, instead of every match copying them through two sorts. 2.5 ms.
-- * JIT is off for mf_search and mf_search_suggest, as for the graph (0009):
--   a plan whose estimate passes jit_above_cost compiled itself on every
--   call, 25 ms, more than the query. One more branch in suggest's plan did
--   that in a trial of this migration (1 -> 30 ms for "financ").
--
-- Together 18 -> 12.4 ms in SQL (median of 15, one client); exact names and
-- narrow queries pay less of this and change little. And no btree index leads
-- with the tenant any more (see below): a partition shared by tenants made the
-- planner AND the text match with every row of the tenant.
--
-- Lineage (0009's mf_lineage_graph). A graph of 500 nodes and 505 edges
-- around a hub took 19-25 ms, 3 of them the walk. Three things cost the rest:
--
-- * Planning. Each statement was planned for its arguments, and its
--   arguments are arrays of 500 ids and a 500-key map: the planner looked at
--   every element. One generic plan per statement (plan_cache_mode) is what
--   0023 did for search; every statement of the graph reads by key.
-- * Building 500 nodes. A dataset's node data (namespace, name, description,
--   format, domain, owner, tags, placeholder, lifecycle, updated_at) is now
--   stored beside its document, in datasets.graph_data, and refreshed with
--   it (mf_refresh_docs, the one place documents are written), so a graph
--   reads it instead of building it and looking up domain and owner names.
--   Like the document it is derived data: the audit log and the scoped write
--   check ignore it.
-- * jsonb. The answer is json, written once as text; jsonb_agg took every
--   element apart and built it again, and the text was then printed from
--   the binary form.
--
-- With the datasets read once instead of twice: 19.5 -> 10.5 ms in SQL
-- (medians, one client). The route already sent the text (`::text`), so the
-- API is unchanged; an object's keys are now in the order written (id,
-- type, distance, data) instead of jsonb's, and the text has spaces after
-- colons.

-- Every word of p_words whole at weight A, ANDed: a row whose name's words are exactly these holds
-- each of them (the index puts a name's words at A), so `tsv @@` this is the cheap
-- test before splitting the name.
CREATE FUNCTION mf_search_words_query(p_words text[]) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(mf_search_lexeme_whole(w, 'A'), ' & ')::tsquery FROM unnest(p_words) w
$$;

-- 0023's search, with the exact tier's cheap tests first and the page's wide columns read by key.
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
    -- facets over the best p_facet_cap matches, in page order
    top AS (SELECT * FROM k ORDER BY si DESC, ko, name COLLATE "C", id LIMIT p_facet_cap),
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
        SELECT 'tag', u, count(*) FROM top, unnest(top.tags) u GROUP BY u),
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

-- (JIT: see the top of this file.)
ALTER FUNCTION mf_search_suggest(text, integer) SET jit = off;

-- No btree index of search_index starts with the tenant. A search names its tenant as
-- `tenant_id = ...`, which picks the tenant's partition when the query starts; but a partition holds
-- other tenants too, and with a generic plan the planner cannot tell how selective a text match is,
-- so it ANDed the text index's bitmap with a bitmap of every row of the tenant from any btree that
-- starts with tenant_id: 0.7 s instead of 6 ms for an exact name at two tenants of 100,000 datasets
-- sharing a partition (0019 met the same with the old (tenant_id, kind) index). The primary key and
-- 0023's autocomplete index keep their columns, with the tenant last: an autocomplete walk still
-- reads the names of its first three letters in length order, and checks the tenant in the index.
ALTER TABLE search_index DROP CONSTRAINT search_index_pkey, ADD PRIMARY KEY (id, tenant_id);
DROP INDEX search_index_name_start;
CREATE INDEX search_index_name_start ON search_index (left(lower(name), 3), length(name), tenant_id);

-- ---------- lineage: a dataset's graph node, stored ----------

-- A dataset's "data" in a graph answer, stored beside its document and refreshed with it.
ALTER TABLE datasets ADD COLUMN graph_data json;

-- The node's data is the part of the stored document a graph shows, so the two cannot disagree.
CREATE FUNCTION mf_graph_dataset_data(doc jsonb) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'namespace', doc->'namespace', 'name', doc->'name', 'description', doc->'description',
        'format', doc->'format', 'domain', doc->'domain', 'owner', doc->'owner', 'tags', doc->'tags',
        'placeholder', doc->'placeholder', 'lifecycle', doc->'lifecycle', 'updated_at', doc->'updated_at')
$$;

-- 0007's, refreshing the graph node from the document it just built (built once, from the row as
-- it is when locked).
CREATE OR REPLACE FUNCTION mf_refresh_docs(p_ids uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE datasets d
    SET (doc, graph_data) = (SELECT x.doc, mf_graph_dataset_data(x.doc) FROM mf_dataset_doc(d) x(doc))
    WHERE d.id = ANY (p_ids) AND d.tenant_id = mf_current_tenant()
$$;

-- 0004's audit, 0007's write check: the graph node is derived data like the document (refreshing
-- it is no change, and a neighbour outside a scoped writer's reach may be refreshed).
CREATE OR REPLACE FUNCTION mf_audit_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_j jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    row_j jsonb;
BEGIN
    -- secrets never reach the log; a key's last use is bookkeeping, not a change
    old_j := old_j - 'secret_hash' - 'client_secret' - 'token_hash' - 'csrf_token' - 'last_used_at';
    new_j := new_j - 'secret_hash' - 'client_secret' - 'token_hash' - 'csrf_token' - 'last_used_at';
    IF TG_TABLE_NAME = 'datasets' THEN
        -- the stored document and graph node are derived data: not audited, and refreshing them is no change
        old_j := old_j - 'doc' - 'graph_data';
        new_j := new_j - 'doc' - 'graph_data';
    END IF;
    IF TG_OP = 'UPDATE' AND old_j = new_j THEN
        RETURN NULL;
    END IF;
    row_j := coalesce(new_j, old_j);
    INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
    VALUES (coalesce((row_j->>'tenant_id')::uuid, CASE WHEN TG_TABLE_NAME = 'tenants' THEN (row_j->>'id')::uuid END),
            coalesce(current_setting('mf.actor', true), ''),
            TG_ARGV[0] || '.' || CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE lower(TG_OP) END,
            coalesce(CASE WHEN row_j ? 'namespace' THEN (row_j->>'namespace') || '/' END, '') ||
                coalesce(row_j->>'name', row_j->>'email', row_j->>'prefix', row_j->>'user_id', row_j->>'id', ''),
            coalesce(current_setting('mf.request_id', true), ''),
            coalesce(current_setting('mf.client_addr', true), ''),
            old_j, new_j);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION mf_access_datasets_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb;
    taken record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_j := to_jsonb(OLD) - 'doc' - 'graph_data' - 'version' - 'updated_at';
        IF old_j = to_jsonb(NEW) - 'doc' - 'graph_data' - 'version' - 'updated_at' THEN
            RETURN NEW; -- bookkeeping (see the top of 0007_access.sql)
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' AND NOT mf_access_may_write(OLD.domain_id, OLD.id) THEN
        PERFORM mf_raise('403', format('your access does not reach dataset %s/%s', OLD.namespace, OLD.name));
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- the name may be taken by a dataset the caller does not see: say so
        -- rather than fail on the unique index
        SELECT * INTO taken FROM mf_access_existing_dataset(NEW.namespace, NEW.name);
        IF taken.id IS NOT NULL AND NOT mf_access_may_write(taken.domain_id, taken.id) THEN
            PERFORM mf_raise('403', format('your access does not reach dataset %s/%s', NEW.namespace, NEW.name));
        END IF;
        IF NOT mf_access_may_write(NEW.domain_id, NULL) THEN
            PERFORM mf_raise('403', format('your access does not reach dataset %s/%s%s', NEW.namespace, NEW.name,
                                           mf_access_where(NEW.domain_id)));
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        -- the dataset as it will be: a grant on the dataset itself keeps it in its domain
        IF NOT mf_access_may_write(NEW.domain_id, CASE WHEN NEW.domain_id IS NOT DISTINCT FROM OLD.domain_id
                                                       THEN NEW.id END) THEN
            PERFORM mf_raise('403', format('your access does not reach dataset %s/%s%s', NEW.namespace, NEW.name,
                                           mf_access_where(NEW.domain_id)));
        END IF;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- Every dataset's node, once (the triggers above now ignore it).
UPDATE datasets SET graph_data = mf_graph_dataset_data(doc);

-- Two JSON arrays as one, by joining their texts (the elements are not taken apart and built again).
CREATE FUNCTION mf_json_array_concat(a json, b json) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL OR a::text = '[]' THEN b WHEN b IS NULL OR b::text = '[]' THEN a
                ELSE (left(a::text, -1) || ', ' || substr(b::text, 2))::json END
$$;

-- 0009's graph, built as json from the stored nodes, with one plan (see the top of this file); the
-- field graph also as json, so the function has one answer type.
DROP FUNCTION mf_lineage_graph(text, integer, text, integer);
CREATE FUNCTION mf_lineage_graph(p_node text, p_depth integer, p_dir text, p_limit integer) RETURNS json
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
        -- set-based: the nodes' rows by primary key (= ANY), their edges by
        -- the (source_id, target_id) index, names and membership through
        -- hashed JSON lookups, so the plan does not depend on statistics
        v_ids := g.keys::uuid[];
        SELECT coalesce(jsonb_object_agg(k, dist), '{}') INTO v_set FROM unnest(g.keys, g.dists) n(k, dist);
        -- the datasets once, by primary key: their node ids (for the edges) and their nodes, in order
        SELECT coalesce(jsonb_object_agg(x.id::text, x.nid), '{}'),
               coalesce(json_agg(json_build_object('id', x.nid, 'type', 'dataset', 'distance', x.dist,
                                                   'data', x.data) ORDER BY x.dist, x.namespace, x.name), '[]')
        INTO v_names, v_datasets
        FROM (SELECT d.id, d.namespace, d.name, mf_graph_dataset_id(d.namespace, d.name) nid,
                     (v_set->>d.id::text)::int dist, d.graph_data data
              FROM datasets d WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant()) x;
        WITH e AS MATERIALIZED (
            SELECT e.id, e.job_id, v_names->>e.source_id::text f, v_names->>e.target_id::text t
            FROM lineage_edges e
            WHERE e.source_id = ANY (v_ids) AND e.tenant_id = mf_current_tenant() AND v_set ? e.target_id::text),
        j AS MATERIALIZED (SELECT j.id, j.namespace, j.name, j.description, mf_graph_job_id(j.namespace, j.name) nid
              FROM jobs j WHERE j.id IN (SELECT job_id FROM e) OR (g.kind = 'job' AND j.id = g.start_id)),
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
            -- lineage edges, then the job edges (input, output), each by (from, to)
            (SELECT coalesce(json_agg(x.edge ORDER BY x.grp, x.f, x.t), '[]') FROM (
                SELECT 0 grp, e.f, e.t, json_build_object('from', e.f, 'to', e.t, 'type', 'lineage', 'edge_id', e.id,
                                                          'job', j.nid) edge
                FROM e LEFT JOIN j ON j.id = e.job_id
                UNION ALL
                SELECT 1, je.f, je.t, json_build_object('from', je.f, 'to', je.t, 'type', je.ty) FROM je) x)
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
