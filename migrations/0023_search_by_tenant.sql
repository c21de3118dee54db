-- 0023_search_by_tenant: search and autocomplete at 100,000 datasets a
-- tenant. The same answers (hashes of 81 search pages with their facets, 117
-- suggestion lists, before and after); what changes is what they read.
--
-- First, search_index is split into 16 partitions by a hash of the tenant, so
-- a search reads only its own tenant's part of the index.
--
-- One GIN index over every tenant made each search read every tenant's
-- postings of its words and throw the others' away: the lists of a common
-- word ("v1", "orders") hold every tenant's rows, and a prefix ("financ:*")
-- unions them all. At two tenants of 20,000 datasets, the four prefixes of
-- "finance.suppliers_raw_v1" took 17.6 ms to find 13 rows; the same match on
-- one partition takes 6 ms, the tenant's rows being also together on disk. On
-- a platform of many tenants the gap grows with their number: a partition
-- holds about one sixteenth of them (tenants whose hashes meet share one).
--
-- The search functions name the tenant as a plain `tenant_id = ...`
-- again (0019 wrote `(...) IS TRUE` to keep the planner from ANDing a bitmap
-- of every row of the tenant from the (tenant_id, kind) index): the equality
-- is what prunes the partitions when the query starts, and that index is not
-- made again (a partition is mostly one tenant's rows; nothing else read it).
-- The primary key becomes (tenant_id, id): a key of a partitioned table must
-- hold the partition key. Rows, ids, policies and grants are as before.
--
-- Second, the index is asked for whole words where that finds the same rows.
-- Every query word is a prefix (w:*), and GIN answers a prefix by reading the
-- posting list of every lexeme that starts with it into a bitmap, where a
-- whole lexeme is walked lazily beside the others: on one partition, the four
-- words of "finance.suppliers_raw_v1" take 6.1 ms as prefixes and 1.2 ms as
-- words. search_lexicon keeps, per tenant, every lexeme that could make a
-- prefix match a row its word alone would not: each one-word lexeme (words,
-- one-word names), and each longer name whose leading run of letters and
-- digits is not itself in the row at the same weights (camelCase names:
-- "ordersDaily.x" is the word "orders" and the lexeme "ordersdaily.x"). When
-- no lexicon entry of the tenant extends w, a row matches w:* exactly when it
-- holds w (at those weights), so the index is asked for w. Ranks and tiers are
-- still computed with the prefixes, so answers are the same. The lexicon only
-- grows (an entry whose last use went away only keeps that word a prefix) and
-- is filled by a statement trigger on the index, so every path that writes
-- the index (REST, ingest, imports, the scale seed) keeps it.
--
-- Third, mf_search and mf_search_suggest were SQL functions, planned again on
-- every call (3-7 ms at this size): they are PL/pgSQL with one generic plan
-- (the tenant's partition is still chosen when the query starts).
--
-- Fourth, autocomplete: names that start with the query rank first, shortest
-- first; when there are enough of them an index on (tenant, first three
-- letters of the lowercased name, length) walks them in that order and stops.
-- Before, "financ" read about 20,000 rows for 10 suggestions at 100,000
-- datasets a tenant (26 ms; now 1 ms).
--
-- Last, per-row costs: mf_search_words (0008), which the index build calls
-- for every row (about 48 calls per ingested dataset) and the exact-name tier
-- for every match, aggregated the pieces of a regexp_split_to_table in a
-- subquery; the same words as one expression the planner inlines are 3x
-- faster (checked equal on 100,000 names and descriptions and on edge cases:
-- empty, NULL, punctuation only, camelCase, digits, non-ASCII). mf_search
-- reads the tenant once instead of once per matching row, and counts its
-- facets in one pass (grouping sets) instead of six calls of mf_search_facet.

CREATE OR REPLACE FUNCTION mf_search_words(p text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(regexp_split_to_array(
               lower(regexp_replace(coalesce(p, ''), '([[:lower:][:digit:]])([[:upper:]])', '\1 \2', 'g')),
               '[^[:alnum:]]+'), '')
$$;

CREATE TABLE search_index_by_tenant (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('dataset', 'field', 'term')),
    dataset_id  uuid REFERENCES datasets(id) ON DELETE CASCADE,      -- dataset and field rows
    term_id     uuid REFERENCES glossary_terms(id) ON DELETE CASCADE, -- term rows
    domain_id   uuid,          -- the dataset's domain (access, domain filter)
    name        text NOT NULL, -- dataset, field or term name
    namespace   text,          -- the dataset's
    dataset     text,          -- field rows: the dataset's name
    domain      text,
    owner       text,
    format      text,
    tags        text[] NOT NULL DEFAULT '{}',
    matches_b   text[] NOT NULL DEFAULT '{}', -- the B-weight names, for snippets
    description text NOT NULL DEFAULT '',
    name_words  integer GENERATED ALWAYS AS (cardinality(mf_search_words(name))) STORED,
    tsv         tsvector NOT NULL,
    PRIMARY KEY (tenant_id, id)
) PARTITION BY HASH (tenant_id);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE search_index_p%s PARTITION OF search_index_by_tenant '
                       'FOR VALUES WITH (MODULUS 16, REMAINDER %s)', lpad(i::text, 2, '0'), i);
    END LOOP;
END
$$;

INSERT INTO search_index_by_tenant (id, tenant_id, kind, dataset_id, term_id, domain_id, name, namespace, dataset,
                                    domain, owner, format, tags, matches_b, description, tsv)
OVERRIDING SYSTEM VALUE
SELECT id, tenant_id, kind, dataset_id, term_id, domain_id, name, namespace, dataset, domain, owner, format, tags,
       matches_b, description, tsv
FROM search_index;

SELECT setval(pg_get_serial_sequence('search_index_by_tenant', 'id'),
              coalesce((SELECT max(id) FROM search_index_by_tenant), 0) + 1, false);

-- the row type of the old table goes with it: mf_search_visible takes the new one (same body as 0008)
DROP FUNCTION mf_search_visible(search_index);
DROP TABLE search_index;
ALTER TABLE search_index_by_tenant RENAME TO search_index;
ALTER TABLE search_index RENAME CONSTRAINT search_index_by_tenant_pkey TO search_index_pkey;

CREATE INDEX search_index_tsv ON search_index USING gin (tsv);
CREATE INDEX search_index_names ON search_index USING gin (ts_filter(tsv, '{a}'));
CREATE INDEX search_index_dataset ON search_index (dataset_id);
CREATE INDEX search_index_term ON search_index (term_id);
CREATE INDEX search_index_name_start ON search_index (tenant_id, left(lower(name), 3), length(name));

SELECT mf_enable_tenant_isolation(ARRAY['search_index']);
CREATE POLICY caller_scope ON search_index AS RESTRICTIVE FOR SELECT
    USING (mf_access_unscoped() OR kind = 'term'
           OR domain_id = mf_access_scope_domain() OR dataset_id = mf_access_scope_dataset());
GRANT SELECT ON search_index TO mf_app;

-- The caller may read this index row: the caller_scope policy of search_index, spelled out.
CREATE FUNCTION mf_search_visible(s search_index) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT mf_access_unscoped() OR s.kind = 'term'
           OR s.domain_id = mf_access_scope_domain() OR s.dataset_id = mf_access_scope_dataset()
$$;

-- ---------- the lexicon: which query words may be looked up whole ----------

CREATE TABLE search_lexicon (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    lexeme    text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, lexeme)
);
SELECT mf_enable_tenant_isolation(ARRAY['search_lexicon']);
GRANT SELECT ON search_lexicon TO mf_app;

-- The lexicon entries of index rows (see the header): one-word lexemes, and longer lexemes whose
-- leading alphanumeric run is not in the same row with at least their weights.
CREATE FUNCTION mf_search_lexicon_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO search_lexicon (tenant_id, lexeme)
    SELECT DISTINCT n.tenant_id, u.lexeme
    FROM added n, unnest(n.tsv) u
    WHERE u.lexeme ~ '^[[:alnum:]]+$'
       OR NOT EXISTS (SELECT 1 FROM unnest(n.tsv) r
                      WHERE r.lexeme = substring(u.lexeme FROM '^[[:alnum:]]*') AND r.weights @> u.weights)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mf_search_lexicon_add() FROM PUBLIC;
CREATE TRIGGER search_lexicon_add AFTER INSERT ON search_index
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION mf_search_lexicon_add();

INSERT INTO search_lexicon (tenant_id, lexeme)
SELECT DISTINCT n.tenant_id, u.lexeme
FROM search_index n, unnest(n.tsv) u
WHERE u.lexeme ~ '^[[:alnum:]]+$'
   OR NOT EXISTS (SELECT 1 FROM unnest(n.tsv) r
                  WHERE r.lexeme = substring(u.lexeme FROM '^[[:alnum:]]*') AND r.weights @> u.weights);

-- Whether the caller's tenant has a lexicon entry that w is a proper prefix of.
CREATE FUNCTION mf_search_extended(w text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM search_lexicon x WHERE x.tenant_id = mf_current_tenant()
                     AND x.lexeme > w COLLATE "C" AND x.lexeme < (w || chr(1114111)) COLLATE "C")
$$;

-- One query lexeme: w whole, restricted to weights p_weights ('' for any).
CREATE FUNCTION mf_search_lexeme_whole(w text, p_weights text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '''' || replace(replace(w, '\', '\\'), '''', '''''') || '''' || coalesce(':' || nullif(p_weights, ''), '')
$$;

-- mf_search_query for the index: the same rows, with each word that nothing in the tenant extends
-- asked for whole (w, w:A) instead of as a prefix (w:*, w:*A).
CREATE FUNCTION mf_search_match_query(p_words text[], p_alts text[], p_weights text) RETURNS tsquery
LANGUAGE sql STABLE AS $$
    SELECT string_agg('(' || l.w || coalesce(' | ' || l.a, '') || ')', ' & ' ORDER BY o)::tsquery
    FROM unnest(p_words, p_alts) WITH ORDINALITY x(w, a, o),
         LATERAL (SELECT CASE WHEN mf_search_extended(x.w) THEN mf_search_lexeme(x.w, p_weights)
                              ELSE mf_search_lexeme_whole(x.w, p_weights) END AS w,
                         CASE WHEN x.a IS NULL THEN NULL
                              WHEN mf_search_extended(x.a) THEN mf_search_lexeme(x.a, p_weights)
                              ELSE mf_search_lexeme_whole(x.a, p_weights) END AS a) l
$$;

-- 0022's search, with the tenant condition above (read once), the index asked mf_search_match_query
-- (qm) where 0022 asked the prefixes (qa), one plan, and the facets in one pass.
CREATE OR REPLACE FUNCTION mf_search(p_q text, p_kind text, p_domain text, p_owner text, p_tag text, p_format text,
                          p_namespace text, p_limit integer, p_after jsonb, p_facet_cap integer)
RETURNS TABLE (items jsonb, next_key jsonb, facets jsonb, total bigint, facets_exact boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
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

/*
 * Autocomplete: names (A weight) holding every query word, names that start with the query first,
 * then the shortest, then datasets, terms, fields, then by name. When at least p_limit names start
 * with the query, the answer is the p_limit shortest of those: the (tenant, first three letters,
 * length) index walks them shortest first and stops (their match is written `(...) IS TRUE` so the
 * planner walks that index instead of ANDing it with the text index's bitmap of every match).
 * Otherwise (a word inside names, a correction, one or two letters) every match is read.
 */
CREATE OR REPLACE FUNCTION mf_search_suggest(p_q text, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    lq text := lower(btrim(p_q));
    qm tsquery;
    starting integer := 0; -- distinct names among the p_limit shortest that start with the query
    longest integer;       -- the longest of those
BEGIN
    SELECT mf_search_match_query(array_agg(w ORDER BY o), array_agg(alt ORDER BY o), '') INTO qm
    FROM mf_search_words_corrected(p_q);
    IF length(lq) >= 3 THEN
        SELECT count(DISTINCT (kind, name, namespace, dataset)), max(len) INTO starting, longest FROM (
            SELECT s.kind, s.name, s.namespace, s.dataset, length(s.name) len FROM search_index s
            WHERE s.tenant_id = mf_current_tenant() AND left(lower(s.name), 3) = left(lq, 3)
              AND starts_with(lower(s.name), lq) AND (ts_filter(s.tsv, '{a}') @@ qm) IS TRUE
              AND mf_search_visible(s)
            ORDER BY length(s.name) LIMIT p_limit) x;
    END IF;
    RETURN (
        WITH m AS (
            -- enough names start with the query: those up to the longest of the p_limit shortest
            SELECT s.kind, s.name, s.namespace, s.dataset, true AS starts
            FROM search_index s
            WHERE starting >= p_limit
              AND s.tenant_id = mf_current_tenant() AND left(lower(s.name), 3) = left(lq, 3)
              AND length(s.name) <= longest AND starts_with(lower(s.name), lq)
              AND (ts_filter(s.tsv, '{a}') @@ qm) IS TRUE AND mf_search_visible(s)
            UNION ALL
            -- otherwise every match
            SELECT s.kind, s.name, s.namespace, s.dataset, starts_with(lower(s.name), lq)
            FROM search_index s
            WHERE starting < p_limit
              AND s.tenant_id = mf_current_tenant() AND ts_filter(s.tsv, '{a}') @@ qm AND mf_search_visible(s)),
        d AS (SELECT DISTINCT ON (kind, name, namespace, dataset) * FROM m)
        SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'name', name, 'namespace', namespace,
                                                                       'dataset', dataset)) ORDER BY rk), '[]')
        FROM (SELECT d.*, row_number() OVER (ORDER BY starts DESC, length(name),
                                             CASE kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END,
                                             name COLLATE "C", namespace COLLATE "C", dataset COLLATE "C") rk FROM d) x
        WHERE rk <= p_limit);
END
$$;
