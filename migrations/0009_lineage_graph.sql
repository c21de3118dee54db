-- 0009_lineage_graph: lineage traversal in SQL, for GET /api/v1/lineage/graph,
-- GET /api/v1/lineage/impact and the Marquez-compatible GET /api/v1/lineage
-- (services/api/src/graph.c). Each endpoint is one statement calling one
-- function below that returns the whole JSON answer.
--
-- Node ids. `dataset:<namespace>:<name>`, `datasetField:<namespace>:<name>:<field>`,
-- `job:<namespace>:<name>`. Parts are separated by ':'; a ':' or '%' inside a
-- part is percent-encoded (%3A, %25), and any other %XX escape inside a part
-- is decoded too, so `dataset:postgres%3A//db%3A5432:public.orders` names
-- dataset public.orders of namespace postgres://db:5432. Answers use the
-- same form (only '%' and ':' encoded), so every id round-trips. A malformed
-- id is 400 naming the problem; an id of something the caller does not see
-- is 404.
--
-- Traversal. mf_graph_walk is a breadth-first walk, one statement per level,
-- over the indexed edges (lineage_edges (source_id, target_id) unique index
-- for downstream, lineage_edges_target for upstream; column_lineage by
-- edge_id): each node is taken once, at its least distance, with one parent,
-- so cycles terminate and every node appears once. It stops at the depth or
-- when the node limit is reached (then `truncated`). Everything runs as the
-- caller (SECURITY INVOKER) under Row Level Security: a scoped caller walks
-- only edges whose two ends it sees (0007's caller_scope policies), and node
-- data is built from the datasets, fields and jobs tables themselves, never
-- from the stored dataset document (which lists neighbours of any domain).

-- Upstream and job lookups (the downstream walk uses the (source_id, target_id) unique index).
CREATE INDEX IF NOT EXISTS lineage_edges_target ON lineage_edges (target_id);
CREATE INDEX IF NOT EXISTS lineage_edges_job ON lineage_edges (job_id) WHERE job_id IS NOT NULL;

-- ---------- node ids ----------

CREATE FUNCTION mf_graph_escape(p text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(p, '%', '%25'), ':', '%3A')
$$;

-- Decode the %XX escapes of one part of a node id (400 when malformed).
CREATE FUNCTION mf_graph_unescape(p text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    buf bytea := '';
    i integer := 1;
    n integer := length(p);
    c text;
BEGIN
    IF strpos(p, '%') = 0 THEN
        RETURN p;
    END IF;
    IF p ~ '%([^0-9A-Fa-f]|.[^0-9A-Fa-f]|.?$)' THEN
        PERFORM mf_raise('400', format('node id: the %s has a malformed percent escape (write %% as %%25 and : as %%3A)', what));
    END IF;
    WHILE i <= n LOOP
        c := substr(p, i, 1);
        IF c = '%' THEN
            buf := buf || decode(substr(p, i + 1, 2), 'hex');
            i := i + 3;
        ELSE
            buf := buf || convert_to(c, 'UTF8');
            i := i + 1;
        END IF;
    END LOOP;
    BEGIN
        c := convert_from(buf, 'UTF8');
    EXCEPTION WHEN OTHERS THEN
        PERFORM mf_raise('400', format('node id: the %s does not decode to UTF-8', what));
    END;
    IF c = '' OR c ~ '[\x01-\x1f\x7f]' THEN
        PERFORM mf_raise('400', format('node id: the %s must not be empty or hold control characters', what));
    END IF;
    RETURN c;
END
$$;

-- Split a node id into its kind and parts (400 naming the problem).
CREATE FUNCTION mf_graph_parse_node(p_id text, OUT kind text, OUT namespace text, OUT name text, OUT field text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[] := string_to_array(p_id, ':');
    want integer;
BEGIN
    kind := parts[1];
    want := CASE kind WHEN 'dataset' THEN 3 WHEN 'job' THEN 3 WHEN 'datasetField' THEN 4 END;
    IF want IS NULL THEN
        PERFORM mf_raise('400', 'node id must start with dataset:, datasetField: or job: '
                                '(dataset:<namespace>:<name>, datasetField:<namespace>:<name>:<field>, job:<namespace>:<name>)');
    END IF;
    IF cardinality(parts) <> want THEN
        PERFORM mf_raise('400', format('node id: a %s id has %s parts separated by '':'' (%s), not %s; '
                                       'percent-encode '':'' inside a part as %%3A (e.g. postgres%%3A//db%%3A5432)',
                                       kind, want,
                                       CASE kind WHEN 'datasetField' THEN 'datasetField:<namespace>:<name>:<field>'
                                                 ELSE kind || ':<namespace>:<name>' END,
                                       cardinality(parts)));
    END IF;
    IF parts[2] = '' OR parts[3] = '' OR (want = 4 AND parts[4] = '') THEN
        PERFORM mf_raise('400', format('node id: the namespace, name%s must not be empty',
                                       CASE WHEN want = 4 THEN ' and field' ELSE '' END));
    END IF;
    namespace := mf_graph_unescape(parts[2], 'namespace');
    name := mf_graph_unescape(parts[3], 'name');
    IF want = 4 THEN
        field := mf_graph_unescape(parts[4], 'field');
    END IF;
    IF length(namespace) > 512 OR length(name) > 512 OR length(field) > 512 THEN
        PERFORM mf_raise('400', 'node id: namespace, name and field are at most 512 characters');
    END IF;
END
$$;

CREATE FUNCTION mf_graph_dataset_id(p_ns text, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'dataset:' || mf_graph_escape(p_ns) || ':' || mf_graph_escape(p_name)
$$;

CREATE FUNCTION mf_graph_field_id(p_ns text, p_name text, p_field text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'datasetField:' || mf_graph_escape(p_ns) || ':' || mf_graph_escape(p_name) || ':' || mf_graph_escape(p_field)
$$;

CREATE FUNCTION mf_graph_job_id(p_ns text, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'job:' || mf_graph_escape(p_ns) || ':' || mf_graph_escape(p_name)
$$;

-- ---------- the walk ----------

-- The edges out of one dataset, by its index. A function (plpgsql: never
-- inlined) so that the graph queries look edges up per node whatever the
-- planner's statistics say (a freshly written graph has none).
CREATE FUNCTION mf_graph_out_edges(p_id uuid) RETURNS SETOF lineage_edges
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT * FROM lineage_edges e WHERE e.source_id = p_id AND e.tenant_id = mf_current_tenant();
END
$$;

CREATE FUNCTION mf_graph_in_edges(p_id uuid) RETURNS SETOF lineage_edges
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT * FROM lineage_edges e WHERE e.target_id = p_id AND e.tenant_id = mf_current_tenant();
END
$$;


/*
 * Breadth-first walk from p_seeds (distance p_first) in direction p_dir
 * ('up' or 'down'), at most p_depth distance, at most p_limit nodes
 * (seeds included). p_field: the keys are field keys '<dataset uuid>/<field>'
 * walked through column_lineage, else dataset uuids as text. Returns the
 * nodes in order of distance with their distance and parent (NULL for
 * seeds), and whether the limit cut the walk short.
 */
CREATE FUNCTION mf_graph_walk(p_seeds text[], p_first integer, p_dir text, p_field boolean, p_depth integer,
                              p_limit integer, OUT keys text[], OUT dists integer[], OUT parents text[],
                              OUT truncated boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    frontier text[];
    nxt_keys text[];
    nxt_parents text[];
    d integer := p_first;
    room integer;
    seen jsonb;
BEGIN
    truncated := false;
    SELECT coalesce(array_agg(s ORDER BY s), '{}') INTO frontier FROM (SELECT DISTINCT s FROM unnest(p_seeds) s) x;
    IF cardinality(frontier) > p_limit THEN
        frontier := frontier[1:p_limit];
        truncated := true;
    END IF;
    keys := frontier;
    dists := array_fill(p_first, ARRAY[cardinality(frontier)]);
    parents := array_fill(NULL::text, ARRAY[cardinality(frontier)]);
    SELECT coalesce(jsonb_object_agg(k, true), '{}') INTO seen FROM unnest(frontier) k;
    WHILE d < p_depth AND cardinality(frontier) > 0 AND NOT truncated LOOP
        d := d + 1;
        IF NOT p_field AND p_dir = 'down' THEN
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (e.target_id) e.target_id::text k, e.source_id::text p
                  FROM unnest(frontier::uuid[]) f(id) CROSS JOIN LATERAL mf_graph_out_edges(f.id) e
                  WHERE NOT seen ? e.target_id::text
                  ORDER BY e.target_id, e.source_id) x;
        ELSIF NOT p_field THEN
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (e.source_id) e.source_id::text k, e.target_id::text p
                  FROM unnest(frontier::uuid[]) f(id) CROSS JOIN LATERAL mf_graph_in_edges(f.id) e
                  WHERE NOT seen ? e.source_id::text
                  ORDER BY e.source_id, e.target_id) x;
        ELSIF p_dir = 'down' THEN
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (k) k, p FROM (
                      SELECT e.target_id::text || '/' || c.target_field k, f.key p
                      FROM unnest(frontier) f(key)
                      CROSS JOIN LATERAL mf_graph_out_edges(substr(f.key, 1, 36)::uuid) e
                      JOIN column_lineage c ON c.edge_id = e.id AND c.source_field = substr(f.key, 38)
                      ) y
                  WHERE NOT seen ? k
                  ORDER BY k, p) x;
        ELSE
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (k) k, p FROM (
                      SELECT e.source_id::text || '/' || c.source_field k, f.key p
                      FROM unnest(frontier) f(key)
                      CROSS JOIN LATERAL mf_graph_in_edges(substr(f.key, 1, 36)::uuid) e
                      JOIN column_lineage c ON c.edge_id = e.id AND c.target_field = substr(f.key, 38)
                      ) y
                  WHERE NOT seen ? k
                  ORDER BY k, p) x;
        END IF;
        room := p_limit - cardinality(keys);
        IF cardinality(nxt_keys) > room THEN
            nxt_keys := nxt_keys[1:room];
            nxt_parents := nxt_parents[1:room];
            truncated := true;
        END IF;
        keys := keys || nxt_keys;
        dists := dists || array_fill(d, ARRAY[cardinality(nxt_keys)]);
        parents := parents || nxt_parents;
        frontier := nxt_keys;
        SELECT seen || coalesce(jsonb_object_agg(k, true), '{}') INTO seen FROM unnest(nxt_keys) k;
    END LOOP;
END
$$;

-- ---------- the start node ----------

/*
 * Resolve a node id for the caller: its kind, the dataset (or job) uuid, the
 * field, and the canonical id. 404 when the caller does not see it.
 */
CREATE FUNCTION mf_graph_resolve(p_node text, OUT kind text, OUT id uuid, OUT field text, OUT node_id text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    n record;
    v_id uuid;
BEGIN
    SELECT * INTO n FROM mf_graph_parse_node(p_node);
    kind := n.kind;
    field := n.field;
    IF n.kind = 'job' THEN
        SELECT j.id INTO v_id FROM jobs j WHERE j.tenant_id = mf_current_tenant() AND j.namespace = n.namespace
                                          AND j.name = n.name;
        id := v_id;
        IF v_id IS NULL THEN
            PERFORM mf_raise('404', format('job %s/%s not found', n.namespace, n.name));
        END IF;
        node_id := mf_graph_job_id(n.namespace, n.name);
        RETURN;
    END IF;
    SELECT d.id INTO v_id FROM datasets d WHERE d.tenant_id = mf_current_tenant() AND d.namespace = n.namespace
                                            AND d.name = n.name;
    id := v_id;
    IF v_id IS NULL THEN
        PERFORM mf_raise('404', format('dataset %s/%s not found', n.namespace, n.name));
    END IF;
    IF n.kind = 'datasetField' THEN
        IF NOT EXISTS (SELECT 1 FROM fields f WHERE f.dataset_id = v_id AND f.name = n.field)
           AND NOT EXISTS (SELECT 1 FROM lineage_edges e JOIN column_lineage c ON c.edge_id = e.id
                           WHERE e.source_id = v_id AND c.source_field = n.field)
           AND NOT EXISTS (SELECT 1 FROM lineage_edges e JOIN column_lineage c ON c.edge_id = e.id
                           WHERE e.target_id = v_id AND c.target_field = n.field) THEN
            PERFORM mf_raise('404', format('field %s of dataset %s/%s not found', n.field, n.namespace, n.name));
        END IF;
        node_id := mf_graph_field_id(n.namespace, n.name, n.field);
    ELSE
        node_id := mf_graph_dataset_id(n.namespace, n.name);
    END IF;
END
$$;

-- The walk from a resolved node in one direction ('up' or 'down'). A job
-- starts from its inputs (up) or outputs (down) at distance 1.
CREATE FUNCTION mf_graph_walk_from(p_kind text, p_id uuid, p_field text, p_dir text, p_depth integer,
                                   p_limit integer, OUT keys text[], OUT dists integer[], OUT parents text[],
                                   OUT truncated boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    seeds text[];
    w record;
BEGIN
    IF p_kind = 'job' THEN
        SELECT coalesce(array_agg(DISTINCT CASE WHEN p_dir = 'down' THEN e.target_id ELSE e.source_id END::text), '{}')
        INTO seeds FROM lineage_edges e WHERE e.job_id = p_id AND e.tenant_id = mf_current_tenant();
        IF p_depth < 1 THEN
            seeds := '{}';
        END IF;
        SELECT * INTO w FROM mf_graph_walk(seeds, 1, p_dir, false, p_depth, p_limit);
    ELSIF p_kind = 'datasetField' THEN
        SELECT * INTO w FROM mf_graph_walk(ARRAY[p_id::text || '/' || p_field], 0, p_dir, true, p_depth, p_limit);
    ELSE
        SELECT * INTO w FROM mf_graph_walk(ARRAY[p_id::text], 0, p_dir, false, p_depth, p_limit);
    END IF;
    keys := w.keys;
    dists := w.dists;
    parents := w.parents;
    truncated := w.truncated;
END
$$;

-- The dataset node data (no neighbour lists: see the top of this file).
CREATE FUNCTION mf_graph_dataset_data(d datasets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'namespace', d.namespace, 'name', d.name, 'description', d.description, 'format', d.format,
        'domain', (SELECT name FROM domains WHERE id = d.domain_id),
        'owner', (SELECT name FROM owners WHERE id = d.owner_id),
        'tags', to_jsonb(d.tags), 'placeholder', d.placeholder, 'lifecycle', d.lifecycle,
        'updated_at', mf_ts(d.updated_at))
$$;

/*
 * The walk for an endpoint: the start node resolved (404/400 raised), then
 * up, down or both (ancestors and descendants, sharing p_limit), merged to
 * one distance per node. keys are dataset uuids as text, or field keys
 * '<dataset uuid>/<field>' for a datasetField start.
 */
CREATE FUNCTION mf_graph_collect(p_node text, p_depth integer, p_dir text, p_limit integer,
                                 OUT kind text, OUT start_id uuid, OUT node_id text,
                                 OUT keys text[], OUT dists integer[], OUT truncated boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s record;
    w record;
    up_keys text[] := '{}';
    up_dists integer[] := '{}';
    down_keys text[] := '{}';
    down_dists integer[] := '{}';
BEGIN
    SELECT * INTO s FROM mf_graph_resolve(p_node);
    kind := s.kind;
    start_id := s.id;
    node_id := s.node_id;
    truncated := false;
    IF p_dir IN ('up', 'both') THEN
        SELECT * INTO w FROM mf_graph_walk_from(s.kind, s.id, s.field, 'up', p_depth, p_limit);
        up_keys := w.keys;
        up_dists := w.dists;
        truncated := w.truncated;
    END IF;
    IF p_dir IN ('down', 'both') THEN
        -- the start node is in both walks: count it once
        SELECT * INTO w FROM mf_graph_walk_from(s.kind, s.id, s.field, 'down', p_depth,
                                                p_limit - cardinality(up_keys)
                                                + CASE WHEN s.kind <> 'job' AND p_dir = 'both' THEN 1 ELSE 0 END);
        down_keys := w.keys;
        down_dists := w.dists;
        truncated := truncated OR w.truncated;
    END IF;
    SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(dist ORDER BY k), '{}') INTO keys, dists
    FROM (SELECT k, min(dist) dist FROM (
              SELECT * FROM unnest(up_keys, up_dists) x(k, dist)
              UNION ALL
              SELECT * FROM unnest(down_keys, down_dists)) y
          GROUP BY k) z;
END
$$;

-- ---------- GET /api/v1/lineage/graph ----------

/*
 * {"node","depth","direction","nodes":[{"id","type","distance","data"}],
 *  "edges":[{"from","to","type",...}],"truncated"}. Dataset graphs carry
 * "lineage" edges between datasets (with "edge_id" and "job": the job's id
 * or null) and, for edges whose job is known, the job nodes with "input"
 * (dataset -> job) and "output" (job -> dataset) edges. Field graphs carry
 * "column" edges between datasetField nodes. Edges are those among the
 * returned nodes.
 */
CREATE FUNCTION mf_lineage_graph(p_node text, p_depth integer, p_dir text, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    g record;
    v_nodes jsonb;
    v_edges jsonb;
    v_set jsonb;
BEGIN
    SELECT * INTO g FROM mf_graph_collect(p_node, p_depth, p_dir, p_limit);
    SELECT coalesce(jsonb_object_agg(k, true), '{}') INTO v_set FROM unnest(g.keys) k;
    IF g.kind <> 'datasetField' THEN
        -- lookups by primary key and hashed membership only: the plan must not
        -- depend on statistics (a freshly written graph has none)
        WITH n AS MATERIALIZED (SELECT * FROM unnest(g.keys, g.dists) n(k, dist)),
        e AS MATERIALIZED (
            SELECT e.id, e.job_id,
                   (SELECT mf_graph_dataset_id(d.namespace, d.name) FROM datasets d WHERE d.id = e.source_id) f,
                   (SELECT mf_graph_dataset_id(d.namespace, d.name) FROM datasets d WHERE d.id = e.target_id) t
            FROM n CROSS JOIN LATERAL mf_graph_out_edges(n.k::uuid) e
            WHERE v_set ? e.target_id::text),
        j AS (SELECT j.id, j.namespace, j.name, j.description, mf_graph_job_id(j.namespace, j.name) nid
              FROM jobs j WHERE j.id IN (SELECT job_id FROM e) OR (g.kind = 'job' AND j.id = g.start_id)),
        je AS (SELECT DISTINCT e.f, j.nid t, 'input' ty FROM e JOIN j ON j.id = e.job_id
               UNION SELECT DISTINCT j.nid, e.t, 'output' FROM e JOIN j ON j.id = e.job_id)
        SELECT
            (SELECT coalesce(jsonb_agg(jsonb_build_object('id', j.nid, 'type', 'job',
                                                          'distance', CASE WHEN j.id = g.start_id THEN 0 END,
                                                          'data', jsonb_build_object('namespace', j.namespace,
                                                                                     'name', j.name,
                                                                                     'description', j.description))
                                       ORDER BY j.namespace, j.name), '[]') FROM j)
            || (SELECT coalesce(jsonb_agg(jsonb_build_object('id', mf_graph_dataset_id(d.namespace, d.name),
                                                             'type', 'dataset', 'distance', n.dist,
                                                             'data', mf_graph_dataset_data(d))
                                          ORDER BY n.dist, d.namespace, d.name), '[]')
                FROM n CROSS JOIN LATERAL (SELECT * FROM datasets x WHERE x.id = n.k::uuid) d),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('from', e.f, 'to', e.t, 'type', 'lineage', 'edge_id', e.id,
                                                          'job', j.nid) ORDER BY e.f, e.t), '[]')
             FROM e LEFT JOIN LATERAL (SELECT * FROM j WHERE j.id = e.job_id) j ON true)
            || (SELECT coalesce(jsonb_agg(jsonb_build_object('from', je.f, 'to', je.t, 'type', je.ty)
                                          ORDER BY je.f, je.t), '[]') FROM je)
        INTO v_nodes, v_edges;
    ELSE
        WITH n AS (SELECT * FROM unnest(g.keys, g.dists) n(k, dist)),
        dn AS (SELECT DISTINCT substr(k, 1, 36)::uuid id FROM n)
        SELECT
            (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'id', mf_graph_field_id(d.namespace, d.name, substr(n.k, 38)), 'type', 'datasetField',
                        'distance', n.dist,
                        'data', jsonb_build_object('namespace', d.namespace, 'name', d.name, 'field', substr(n.k, 38),
                                                   'type', (SELECT f.type FROM fields f WHERE f.dataset_id = d.id
                                                              AND f.name = substr(n.k, 38)),
                                                   'dataset', mf_graph_dataset_id(d.namespace, d.name)))
                        ORDER BY n.dist, d.namespace, d.name, substr(n.k, 38)), '[]')
             FROM n JOIN datasets d ON d.id = substr(n.k, 1, 36)::uuid),
            (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'from', mf_graph_field_id(sd.namespace, sd.name, c.source_field),
                        'to', mf_graph_field_id(td.namespace, td.name, c.target_field),
                        'type', 'column', 'edge_id', e.id, 'transformation', c.transformation,
                        'expression', c.expression,
                        'job', (SELECT mf_graph_job_id(j.namespace, j.name) FROM jobs j WHERE j.id = e.job_id))
                        ORDER BY sd.namespace, sd.name, c.source_field, td.namespace, td.name, c.target_field), '[]')
             FROM dn JOIN lineage_edges e ON e.source_id = dn.id
             JOIN column_lineage c ON c.edge_id = e.id
             JOIN datasets sd ON sd.id = e.source_id JOIN datasets td ON td.id = e.target_id
             WHERE e.tenant_id = mf_current_tenant()
               AND e.source_id::text || '/' || c.source_field IN (SELECT k FROM n)
               AND e.target_id::text || '/' || c.target_field IN (SELECT k FROM n))
        INTO v_nodes, v_edges;
    END IF;
    RETURN jsonb_build_object('node', g.node_id, 'depth', p_depth, 'direction', p_dir,
                              'nodes', v_nodes, 'edges', v_edges, 'truncated', g.truncated);
END
$$;

-- ---------- GET /api/v1/lineage/impact ----------

/*
 * What a change to the node reaches downstream: {"node","depth","items":[...],
 * "total","by_depth":[{"distance","datasets","fields"}],"by_owner":[{"owner","datasets"}],
 * "truncated"}. Items are every downstream dataset (and, from a datasetField,
 * every downstream column, then the datasets holding them), each with its
 * least distance and one shortest path of node ids from the start to it.
 */
CREATE FUNCTION mf_lineage_impact(p_node text, p_depth integer, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s record;
    w record;
    v_out jsonb;
BEGIN
    SELECT * INTO s FROM mf_graph_resolve(p_node);
    SELECT * INTO w FROM mf_graph_walk_from(s.kind, s.id, s.field, 'down', p_depth, p_limit);
    WITH RECURSIVE n AS (
        SELECT x.k, x.dist, x.parent, d.namespace, d.name,
               CASE WHEN s.kind = 'datasetField' THEN substr(x.k, 38) END field,
               CASE WHEN s.kind = 'datasetField' THEN mf_graph_field_id(d.namespace, d.name, substr(x.k, 38))
                    ELSE mf_graph_dataset_id(d.namespace, d.name) END nid,
               mf_graph_dataset_id(d.namespace, d.name) did,
               (SELECT o.name FROM owners o WHERE o.id = d.owner_id) owner,
               (SELECT m.name FROM domains m WHERE m.id = d.domain_id) domain
        FROM unnest(w.keys, w.dists, w.parents) x(k, dist, parent)
        JOIN datasets d ON d.id = substr(x.k, 1, 36)::uuid),
    p AS (SELECT n.k, n.parent cur, ARRAY[n.nid] path FROM n
          UNION ALL
          SELECT p.k, n.parent, n.nid || p.path FROM p JOIN n ON n.k = p.cur),
    hit AS (SELECT n.*, CASE WHEN s.kind = 'job' THEN s.node_id || p.path ELSE p.path END path
            FROM n JOIN p ON p.k = n.k AND p.cur IS NULL
            WHERE n.dist > 0),
    fld AS (SELECT * FROM hit WHERE s.kind = 'datasetField'),
    ds AS (SELECT DISTINCT ON (did) did nid, namespace, name, dist, path, owner, domain FROM hit
           ORDER BY did, dist, path),
    items AS (
        SELECT ds.dist, 0 ord, ds.namespace, ds.name, '' field,
               jsonb_build_object('id', ds.nid, 'type', 'dataset', 'namespace', ds.namespace, 'name', ds.name,
                                  'owner', ds.owner, 'domain', ds.domain, 'distance', ds.dist,
                                  'path', to_jsonb(ds.path)) doc
        FROM ds
        UNION ALL
        SELECT fld.dist, 1, fld.namespace, fld.name, fld.field,
               jsonb_build_object('id', fld.nid, 'type', 'datasetField', 'namespace', fld.namespace, 'name', fld.name,
                                  'field', fld.field, 'dataset', fld.did, 'owner', fld.owner, 'domain', fld.domain,
                                  'distance', fld.dist, 'path', to_jsonb(fld.path))
        FROM fld)
    SELECT jsonb_build_object(
        'node', s.node_id, 'depth', p_depth,
        'items', (SELECT coalesce(jsonb_agg(doc ORDER BY dist, ord, namespace, name, field), '[]') FROM items),
        'total', (SELECT count(*) FROM ds),
        'total_fields', (SELECT count(*) FROM fld),
        'by_depth', (SELECT coalesce(jsonb_agg(jsonb_build_object('distance', dist, 'datasets', nd, 'fields', nf)
                                               ORDER BY dist), '[]')
                     FROM (SELECT dist, sum(CASE WHEN ord = 0 THEN 1 ELSE 0 END) nd,
                                  sum(CASE WHEN ord = 1 THEN 1 ELSE 0 END) nf
                           FROM items GROUP BY dist) c),
        'by_owner', (SELECT coalesce(jsonb_agg(jsonb_build_object('owner', owner, 'datasets', nd)
                                               ORDER BY nd DESC, owner NULLS LAST), '[]')
                     FROM (SELECT owner, count(*) nd FROM ds GROUP BY owner) c),
        'truncated', w.truncated)
    INTO v_out;
    RETURN v_out;
END
$$;

-- ---------- GET /api/v1/lineage (Marquez) ----------

/*
 * Marquez's lineage answer: {"graph":[{"id","type","data","inEdges":[{"origin","destination"}],"outEdges"}]}
 * with DATASET and JOB nodes. A dataset edge whose job is known becomes
 * dataset -> job -> dataset, as in Marquez; one without a job stays
 * dataset -> dataset. Both directions from the node.
 */
CREATE FUNCTION mf_lineage_marquez(p_node text, p_depth integer, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    g record;
    v_out jsonb;
    v_set jsonb;
BEGIN
    IF p_node LIKE 'datasetField:%' THEN
        PERFORM mf_raise('400', 'nodeId: a datasetField node has no Marquez lineage graph; '
                                'use GET /api/v1/lineage/graph?node=datasetField:...');
    END IF;
    SELECT * INTO g FROM mf_graph_collect(p_node, p_depth, 'both', p_limit);
    SELECT coalesce(jsonb_object_agg(k, true), '{}') INTO v_set FROM unnest(g.keys) k;
    WITH n AS MATERIALIZED (
        SELECT d.*, mf_graph_dataset_id(d.namespace, d.name) nid
        FROM unnest(g.keys) x(k) CROSS JOIN LATERAL (SELECT * FROM datasets y WHERE y.id = x.k::uuid) d),
    e AS MATERIALIZED (
        SELECT e.id, e.job_id, a.nid f,
               (SELECT mf_graph_dataset_id(d.namespace, d.name) FROM datasets d WHERE d.id = e.target_id) t
        FROM n a CROSS JOIN LATERAL mf_graph_out_edges(a.id) e
        WHERE v_set ? e.target_id::text),
    j AS (SELECT j.*, mf_graph_job_id(j.namespace, j.name) nid
          FROM jobs j WHERE j.id IN (SELECT job_id FROM e) OR (g.kind = 'job' AND j.id = g.start_id)),
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
