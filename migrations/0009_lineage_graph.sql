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

/*
 * Breadth-first walk from p_seeds (distance p_first) in direction p_dir
 * ('up' or 'down'), at most p_depth distance, at most p_limit nodes
 * (seeds included). p_field: the keys are field keys '<dataset uuid>/<field>'
 * walked through column_lineage, else dataset uuids as text. Returns the
 * nodes in order of distance with their distance and parent (NULL for
 * seeds), and whether the limit cut the walk short.
 *
 * One set-based statement per level: the frontier's edges are read through
 * the (source_id, target_id) or target_id index with `= ANY (frontier)`
 * (an index scan whatever the statistics say), and nodes already taken are
 * dropped with a hashed NOT IN over the keys so far (no per-node calls).
 */
CREATE FUNCTION mf_graph_walk(p_seeds text[], p_first integer, p_dir text, p_field boolean, p_depth integer,
                              p_limit integer, OUT keys text[], OUT dists integer[], OUT parents text[],
                              OUT truncated boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    frontier text[];
    fids uuid[];
    nxt_keys text[];
    nxt_parents text[];
    d integer := p_first;
    room integer;
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
    WHILE d < p_depth AND cardinality(frontier) > 0 AND NOT truncated LOOP
        d := d + 1;
        IF NOT p_field THEN
            fids := frontier::uuid[];
        ELSE
            SELECT array_agg(DISTINCT substr(f, 1, 36)::uuid) INTO fids FROM unnest(frontier) f;
        END IF;
        IF NOT p_field AND p_dir = 'down' THEN
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (e.target_id) e.target_id::text k, e.source_id::text p
                  FROM lineage_edges e
                  WHERE e.source_id = ANY (fids) AND e.tenant_id = mf_current_tenant()
                    AND e.target_id::text NOT IN (SELECT unnest(keys))
                  ORDER BY e.target_id, e.source_id) x;
        ELSIF NOT p_field THEN
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (e.source_id) e.source_id::text k, e.target_id::text p
                  FROM lineage_edges e
                  WHERE e.target_id = ANY (fids) AND e.tenant_id = mf_current_tenant()
                    AND e.source_id::text NOT IN (SELECT unnest(keys))
                  ORDER BY e.source_id, e.target_id) x;
        ELSIF p_dir = 'down' THEN
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (k) k, p FROM (
                      SELECT e.target_id::text || '/' || c.target_field k, e.source_id::text || '/' || c.source_field p
                      FROM lineage_edges e
                      JOIN column_lineage c ON c.edge_id = e.id
                      WHERE e.source_id = ANY (fids) AND e.tenant_id = mf_current_tenant()
                      ) y
                  WHERE p IN (SELECT unnest(frontier)) AND k NOT IN (SELECT unnest(keys))
                  ORDER BY k, p) x;
        ELSE
            SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(p ORDER BY k), '{}')
            INTO nxt_keys, nxt_parents
            FROM (SELECT DISTINCT ON (k) k, p FROM (
                      SELECT e.source_id::text || '/' || c.source_field k, e.target_id::text || '/' || c.target_field p
                      FROM lineage_edges e
                      JOIN column_lineage c ON c.edge_id = e.id
                      WHERE e.target_id = ANY (fids) AND e.tenant_id = mf_current_tenant()
                      ) y
                  WHERE p IN (SELECT unnest(frontier)) AND k NOT IN (SELECT unnest(keys))
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
LANGUAGE plpgsql STABLE SET jit = off AS $$
DECLARE
    g record;
    v_nodes jsonb;
    v_edges jsonb;
    v_set jsonb;
    v_ids uuid[];
    v_names jsonb;
    v_oids uuid[];
    v_dids uuid[];
    v_own jsonb;
    v_dom jsonb;
BEGIN
    SELECT * INTO g FROM mf_graph_collect(p_node, p_depth, p_dir, p_limit);
    IF g.kind <> 'datasetField' THEN
        -- set-based: the nodes' rows by primary key (= ANY), their edges by
        -- the (source_id, target_id) index, names and membership through
        -- hashed JSON lookups, so the plan does not depend on statistics
        v_ids := g.keys::uuid[];
        SELECT coalesce(jsonb_object_agg(k, dist), '{}') INTO v_set FROM unnest(g.keys, g.dists) n(k, dist);
        SELECT coalesce(jsonb_object_agg(d.id::text, mf_graph_dataset_id(d.namespace, d.name)), '{}'),
               coalesce(array_agg(DISTINCT d.owner_id) FILTER (WHERE d.owner_id IS NOT NULL), '{}'),
               coalesce(array_agg(DISTINCT d.domain_id) FILTER (WHERE d.domain_id IS NOT NULL), '{}')
        INTO v_names, v_oids, v_dids
        FROM datasets d WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant();
        SELECT coalesce(jsonb_object_agg(o.id::text, o.name), '{}') INTO v_own FROM owners o WHERE o.id = ANY (v_oids);
        SELECT coalesce(jsonb_object_agg(m.id::text, m.name), '{}') INTO v_dom FROM domains m WHERE m.id = ANY (v_dids);
        WITH e AS MATERIALIZED (
            SELECT e.id, e.job_id, v_names->>e.source_id::text f, v_names->>e.target_id::text t
            FROM lineage_edges e
            WHERE e.source_id = ANY (v_ids) AND e.tenant_id = mf_current_tenant() AND v_set ? e.target_id::text),
        j AS MATERIALIZED (SELECT j.id, j.namespace, j.name, j.description, mf_graph_job_id(j.namespace, j.name) nid
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
            || (SELECT coalesce(jsonb_agg(jsonb_build_object('id', v_names->>d.id::text,
                                                             'type', 'dataset', 'distance', (v_set->>d.id::text)::int,
                                                             'data', jsonb_build_object(
                        'namespace', d.namespace, 'name', d.name, 'description', d.description, 'format', d.format,
                        'domain', v_dom->>d.domain_id::text, 'owner', v_own->>d.owner_id::text,
                        'tags', to_jsonb(d.tags), 'placeholder', d.placeholder, 'lifecycle', d.lifecycle,
                        'updated_at', mf_ts(d.updated_at)))
                                          ORDER BY (v_set->>d.id::text)::int, d.namespace, d.name), '[]')
                FROM datasets d
                WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant()),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('from', e.f, 'to', e.t, 'type', 'lineage', 'edge_id', e.id,
                                                          'job', j.nid) ORDER BY e.f, e.t), '[]')
             FROM e LEFT JOIN j ON j.id = e.job_id)
            || (SELECT coalesce(jsonb_agg(jsonb_build_object('from', je.f, 'to', je.t, 'type', je.ty)
                                          ORDER BY je.f, je.t), '[]') FROM je)
        INTO v_nodes, v_edges;
    ELSE
        v_ids := ARRAY(SELECT DISTINCT substr(k, 1, 36)::uuid FROM unnest(g.keys) k);
        SELECT coalesce(jsonb_object_agg(k, true), '{}') INTO v_set FROM unnest(g.keys) k;
        SELECT coalesce(jsonb_object_agg(d.id::text, jsonb_build_array(d.namespace, d.name)), '{}') INTO v_names
        FROM datasets d WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant();
        SELECT
            (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'id', mf_graph_field_id(d.namespace, d.name, substr(n.k, 38)), 'type', 'datasetField',
                        'distance', n.dist,
                        'data', jsonb_build_object('namespace', d.namespace, 'name', d.name, 'field', substr(n.k, 38),
                                                   'type', (SELECT f.type FROM fields f WHERE f.dataset_id = d.id
                                                              AND f.name = substr(n.k, 38)),
                                                   'dataset', mf_graph_dataset_id(d.namespace, d.name)))
                        ORDER BY n.dist, d.namespace, d.name, substr(n.k, 38)), '[]')
             FROM unnest(g.keys, g.dists) n(k, dist) JOIN datasets d ON d.id = substr(n.k, 1, 36)::uuid
             WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant()),
            (SELECT coalesce(jsonb_agg(jsonb_build_object(
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
LANGUAGE plpgsql STABLE SET jit = off AS $$
DECLARE
    s record;
    w record;
    v_out jsonb;
    v_ids uuid[];
    v_nids jsonb;
    v_paths jsonb := '{}';
    v_ds jsonb;
    lvl integer;
BEGIN
    SELECT * INTO s FROM mf_graph_resolve(p_node);
    SELECT * INTO w FROM mf_graph_walk_from(s.kind, s.id, s.field, 'down', p_depth, p_limit);
    SELECT coalesce(array_agg(DISTINCT substr(k, 1, 36)::uuid), '{}') INTO v_ids FROM unnest(w.keys) k;
    -- each node's id, then one shortest path per node, a level at a time
    -- from its parent's (hashed JSON lookups: no join whose plan depends on
    -- statistics)
    -- the datasets once, by primary key, as a JSON map (no join whose plan
    -- depends on statistics; RLS applies here)
    WITH d AS MATERIALIZED (SELECT d.id, d.namespace, d.name, d.owner_id, d.domain_id FROM datasets d
                            WHERE d.id = ANY (v_ids) AND d.tenant_id = mf_current_tenant()),
    o AS MATERIALIZED (SELECT coalesce(jsonb_object_agg(o.id::text, o.name), '{}') m FROM owners o
                       WHERE o.id = ANY (ARRAY(SELECT DISTINCT owner_id FROM d WHERE owner_id IS NOT NULL))),
    m AS MATERIALIZED (SELECT coalesce(jsonb_object_agg(m.id::text, m.name), '{}') m FROM domains m
                       WHERE m.id = ANY (ARRAY(SELECT DISTINCT domain_id FROM d WHERE domain_id IS NOT NULL)))
    SELECT coalesce(jsonb_object_agg(d.id::text, jsonb_build_object('ns', d.namespace, 'n', d.name,
                                                                      'o', o.m->>d.owner_id::text,
                                                                      'm', m.m->>d.domain_id::text)), '{}')
    INTO v_ds FROM d, o, m;
    SELECT coalesce(jsonb_object_agg(x.k, CASE WHEN s.kind = 'datasetField'
                                               THEN mf_graph_field_id(y->>'ns', y->>'n', substr(x.k, 38))
                                               ELSE mf_graph_dataset_id(y->>'ns', y->>'n') END), '{}')
    INTO v_nids
    FROM unnest(w.keys) x(k), LATERAL (SELECT v_ds->substr(x.k, 1, 36) y) z
    WHERE y IS NOT NULL;
    FOR lvl IN SELECT DISTINCT dist FROM unnest(w.dists) dist ORDER BY dist LOOP
        SELECT v_paths || coalesce(jsonb_object_agg(x.k, coalesce(v_paths -> x.parent,
                                                                  CASE WHEN s.kind = 'job' THEN jsonb_build_array(s.node_id)
                                                                       ELSE '[]' END)
                                                         || jsonb_build_array(v_nids ->> x.k)), '{}')
        INTO v_paths
        FROM unnest(w.keys, w.dists, w.parents) x(k, dist, parent)
        WHERE x.dist = lvl AND v_nids ? x.k;
    END LOOP;
    WITH hit AS MATERIALIZED (
        SELECT x.k, x.dist, y->>'ns' namespace, y->>'n' name,
               CASE WHEN s.kind = 'datasetField' THEN substr(x.k, 38) END field,
               v_nids ->> x.k nid,
               mf_graph_dataset_id(y->>'ns', y->>'n') did,
               y->>'o' owner, y->>'m' domain, v_paths -> x.k path
        FROM unnest(w.keys, w.dists) x(k, dist), LATERAL (SELECT v_ds->substr(x.k, 1, 36) y) z
        WHERE x.dist > 0 AND v_paths ? x.k),
    fld AS (SELECT * FROM hit WHERE s.kind = 'datasetField'),
    -- (paths of one distance have one length: jsonb orders them as text[] would)
    ds AS MATERIALIZED (SELECT DISTINCT ON (did) did nid, namespace, name, dist, path, owner, domain FROM hit
           ORDER BY did, dist, path),
    items AS MATERIALIZED (
        SELECT ds.dist, 0 ord, ds.namespace, ds.name, '' field,
               jsonb_build_object('id', ds.nid, 'type', 'dataset', 'namespace', ds.namespace, 'name', ds.name,
                                  'owner', ds.owner, 'domain', ds.domain, 'distance', ds.dist,
                                  'path', ds.path) doc
        FROM ds
        UNION ALL
        SELECT fld.dist, 1, fld.namespace, fld.name, fld.field,
               jsonb_build_object('id', fld.nid, 'type', 'datasetField', 'namespace', fld.namespace, 'name', fld.name,
                                  'field', fld.field, 'dataset', fld.did, 'owner', fld.owner, 'domain', fld.domain,
                                  'distance', fld.dist, 'path', fld.path)
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
