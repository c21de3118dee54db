-- 0008_search: the search index behind GET /api/v1/search and
-- /api/v1/search/suggest, kept current by triggers on every table a catalog
-- write touches (datasets, fields, glossary_terms, glossary_links), so no
-- rebuild is ever needed and every write path (REST, emit, OpenLineage,
-- imports) is covered by construction.
--
-- search_index holds one row per searchable thing: a dataset, a field, a
-- glossary term. Its tsv is built from words, never through a text-search
-- dictionary: a name is split into lowercase words on every non-alphanumeric
-- character and on camelCase ("sales.ordersDaily" -> sales, orders, daily),
-- and the whole lowercased name is one more lexeme. Weights:
--   dataset  A: name words + full name; B: field names, tags, glossary
--            terms linked to it or its fields; C: description, owner,
--            domain, namespace words
--   field    A: field name words + full name; B: its tags and linked terms;
--            C: its description
--   term     A: term name words + full name; C: definition
-- Queries are built from the same words with prefix matching (word:*), so
-- "cust" finds "customer" as you type.
--
-- Typos: search_vocab is the small per-tenant vocabulary of name words
-- (dataset, field, tag and term names) with a trigram index. A query word
-- that is no prefix of any vocabulary word is OR'ed with its nearest
-- vocabulary word (pg_trgm similarity), then the full-text query runs as
-- usual (docs: STACK.md "Search at scale": trigram search over all names is
-- too slow, correcting against the vocabulary is as fast as exact search).
-- The vocabulary only grows: a word whose last use was deleted may still be
-- offered as a correction, which then finds nothing.
--
-- Access: both tables carry tenant isolation, and search_index a RESTRICTIVE
-- caller_scope policy that mirrors 0007's policy on datasets (the row keeps
-- its dataset's domain_id): a scoped caller's matches, totals and facets never
-- include datasets or fields outside its scope. Glossary terms are
-- tenant-wide objects every caller reads, as in 0007.
--
-- pg_trgm is a trusted extension (PostgreSQL 13+): mf_owner, which owns the
-- database, may create it without a superuser.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ---------- words ----------

-- The lowercase words of a text: split on camelCase and every run of
-- non-alphanumeric characters.
CREATE FUNCTION mf_search_words(p text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(w), '{}') FROM
        regexp_split_to_table(lower(regexp_replace(coalesce(p, ''), '([[:lower:][:digit:]])([[:upper:]])', '\1 \2', 'g')),
                              '[^[:alnum:]]+') w
    WHERE w <> ''
$$;

-- Words and the whole lowercased names, for the A and B parts of a vector.
CREATE FUNCTION mf_search_name_words(p_names text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT w), '{}') FROM (
        SELECT unnest(mf_search_words(n)) w FROM unnest(p_names) n
        UNION ALL SELECT left(lower(n), 400) FROM unnest(p_names) n WHERE n <> '') x
$$;

-- A tsvector of words (taken as they are: no parser, no dictionary), each at one position with weight p_weight.
CREATE FUNCTION mf_search_tsv(p_words text[], p_weight text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg('''' || replace(replace(w, '\', '\\'), '''', '''''') || ''':' || least(o, 16383) || p_weight,
                               ' '), '')::tsvector
    FROM unnest(p_words[1:8000]) WITH ORDINALITY x(w, o) WHERE w <> '' AND octet_length(w) <= 2000 -- a lexeme's limit
$$;

-- ---------- tables ----------

CREATE TABLE search_index (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    tsv         tsvector NOT NULL
);
CREATE INDEX search_index_tsv ON search_index USING gin (tsv);
CREATE INDEX search_index_dataset ON search_index (dataset_id);
CREATE INDEX search_index_term ON search_index (term_id);
CREATE INDEX search_index_tenant ON search_index (tenant_id, kind);

CREATE TABLE search_vocab (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    word      text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, word)
);
CREATE INDEX search_vocab_trgm ON search_vocab USING gin (word gin_trgm_ops);

SELECT mf_enable_tenant_isolation(ARRAY['search_index', 'search_vocab']);

CREATE POLICY caller_scope ON search_index AS RESTRICTIVE FOR SELECT
    USING (mf_access_unscoped() OR kind = 'term'
           OR domain_id = mf_access_scope_domain() OR dataset_id = mf_access_scope_dataset());

-- The service role only reads; the triggers below write as the owner.
GRANT SELECT ON search_index, search_vocab TO mf_app;

-- ---------- maintenance ----------

CREATE FUNCTION mf_search_add_vocab(p_tenant uuid, p_words text[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO search_vocab (tenant_id, word)
    SELECT DISTINCT p_tenant, w FROM unnest(p_words) w WHERE w ~ '^[[:alnum:]]{2,64}$'
    ON CONFLICT DO NOTHING
$$;

-- Rebuild the rows of these datasets and their fields (none for a dataset that is gone).
CREATE FUNCTION mf_search_index_datasets(p_ids uuid[]) RETURNS void
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
    PERFORM mf_search_add_vocab(d.tenant_id, mf_search_name_words(ARRAY[d.name] || d.tags))
    FROM datasets d WHERE d.id = ANY (p_ids);
    PERFORM mf_search_add_vocab(f.tenant_id, mf_search_name_words(ARRAY[f.name] || f.tags))
    FROM fields f WHERE f.dataset_id = ANY (p_ids);
END
$$;

-- Rebuild the rows of these terms and of the datasets linked to them.
CREATE FUNCTION mf_search_index_terms(p_ids uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM search_index WHERE term_id = ANY (p_ids);
    INSERT INTO search_index (tenant_id, kind, term_id, name, description, tsv)
    SELECT g.tenant_id, 'term', g.id, g.name, g.definition,
           mf_search_tsv(mf_search_name_words(ARRAY[g.name]), 'A') || mf_search_tsv(mf_search_words(g.definition), 'C')
    FROM glossary_terms g WHERE g.id = ANY (p_ids);
    PERFORM mf_search_add_vocab(g.tenant_id, mf_search_name_words(ARRAY[g.name])) FROM glossary_terms g
    WHERE g.id = ANY (p_ids);
    PERFORM mf_search_index_datasets(coalesce(array_agg(DISTINCT l.dataset_id), '{}'))
    FROM glossary_links l WHERE l.term_id = ANY (p_ids);
END
$$;

CREATE FUNCTION mf_search_datasets_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM mf_search_index_datasets(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

-- Statement level, so that replacing a schema of N fields rebuilds its dataset once, not N times.
CREATE FUNCTION mf_search_rows_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE ids uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT dataset_id) INTO ids FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT dataset_id) INTO ids FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT x) INTO ids FROM (SELECT dataset_id x FROM new_rows UNION SELECT dataset_id FROM old_rows) y;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM mf_search_index_datasets(ids);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION mf_search_terms_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM mf_search_index_terms(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

-- A dataset's own columns that show in the index (not its document, version or timestamps:
-- mf_refresh_docs rewrites those after every neighbour's change).
CREATE TRIGGER search_index AFTER INSERT ON datasets
    FOR EACH ROW EXECUTE FUNCTION mf_search_datasets_changed();
CREATE TRIGGER search_index_update AFTER UPDATE ON datasets
    FOR EACH ROW WHEN ((OLD.name, OLD.namespace, OLD.description, OLD.tags, OLD.domain_id, OLD.owner_id, OLD.format)
                       IS DISTINCT FROM (NEW.name, NEW.namespace, NEW.description, NEW.tags, NEW.domain_id,
                                         NEW.owner_id, NEW.format))
    EXECUTE FUNCTION mf_search_datasets_changed();
CREATE TRIGGER search_index_ins AFTER INSERT ON fields
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mf_search_rows_changed();
CREATE TRIGGER search_index_upd AFTER UPDATE ON fields
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mf_search_rows_changed();
CREATE TRIGGER search_index_del AFTER DELETE ON fields
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mf_search_rows_changed();
CREATE TRIGGER search_index_ins AFTER INSERT ON glossary_links
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mf_search_rows_changed();
CREATE TRIGGER search_index_del AFTER DELETE ON glossary_links
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mf_search_rows_changed();
CREATE TRIGGER search_index_upd AFTER UPDATE ON glossary_links
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mf_search_rows_changed();
CREATE TRIGGER search_index AFTER INSERT ON glossary_terms
    FOR EACH ROW EXECUTE FUNCTION mf_search_terms_changed();
CREATE TRIGGER search_index_update AFTER UPDATE ON glossary_terms
    FOR EACH ROW WHEN ((OLD.name, OLD.definition) IS DISTINCT FROM (NEW.name, NEW.definition))
    EXECUTE FUNCTION mf_search_terms_changed();
-- Deleting a dataset or a term removes its rows through the foreign keys (ON DELETE CASCADE); the
-- datasets that linked a deleted term are rebuilt by the glossary_links delete trigger.

REVOKE ALL ON FUNCTION mf_search_index_datasets(uuid[]), mf_search_index_terms(uuid[]) FROM PUBLIC;

-- Index what exists already.
SELECT mf_search_index_datasets(coalesce(array_agg(id), '{}')) FROM datasets;
INSERT INTO search_index (tenant_id, kind, term_id, name, description, tsv)
SELECT g.tenant_id, 'term', g.id, g.name, g.definition,
       mf_search_tsv(mf_search_name_words(ARRAY[g.name]), 'A') || mf_search_tsv(mf_search_words(g.definition), 'C')
FROM glossary_terms g;
SELECT mf_search_add_vocab(g.tenant_id, mf_search_name_words(ARRAY[g.name])) FROM glossary_terms g;

-- ---------- queries ----------
--
-- The search functions run as the owner (SECURITY DEFINER) with the tenant and the caller_scope
-- policy written out (mf_search_visible): under Row Level Security PostgreSQL may not use the GIN
-- index for `@@` (not a leakproof operator) and scans the whole table. The policies above still
-- hold for any other read by the service role.

-- The caller may read this index row: the caller_scope policy of search_index, spelled out.
CREATE FUNCTION mf_search_visible(s search_index) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT mf_access_unscoped() OR s.kind = 'term'
           OR s.domain_id = mf_access_scope_domain() OR s.dataset_id = mf_access_scope_dataset()
$$;

-- One query lexeme: w as a prefix, restricted to weights p_weights ('' for any).
CREATE FUNCTION mf_search_lexeme(w text, p_weights text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '''' || replace(replace(w, '\', '\\'), '''', '''''') || ''':*' || p_weights
$$;

-- The words of p_q (at most 8) and, for a word of 3-64 characters that is no prefix of any vocabulary
-- word, its nearest vocabulary word (alt, else NULL).
CREATE FUNCTION mf_search_words_corrected(p_q text) RETURNS TABLE (o bigint, w text, alt text)
LANGUAGE sql STABLE AS $$
    SELECT x.o, x.w,
           CASE WHEN length(x.w) < 3 OR length(x.w) > 64
                     OR EXISTS (SELECT 1 FROM search_vocab v WHERE v.tenant_id = mf_current_tenant()
                                  AND v.word >= x.w COLLATE "C" AND v.word < (x.w || chr(1114111)) COLLATE "C")
                THEN NULL
                ELSE (SELECT v.word FROM search_vocab v WHERE v.tenant_id = mf_current_tenant() AND v.word % x.w
                      ORDER BY similarity(v.word, x.w) DESC, v.word LIMIT 1) END
    FROM unnest((mf_search_words(p_q))[1:8]) WITH ORDINALITY x(w, o)
$$;

-- The tsquery of corrected words: every word must match (a word or its correction); p_weights
-- restricts where. NULL when there is no word.
CREATE FUNCTION mf_search_query(p_words text[], p_alts text[], p_weights text) RETURNS tsquery
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg('(' || mf_search_lexeme(w, p_weights) || coalesce(' | ' || mf_search_lexeme(a, p_weights), '')
                      || ')', ' & ' ORDER BY o)::tsquery
    FROM unnest(p_words, p_alts) WITH ORDINALITY x(w, a, o)
$$;

-- Text with HTML escaped and every occurrence of the words (alphanumeric only) in <mark>.
CREATE FUNCTION mf_search_mark(p_text text, p_words text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(cardinality(p_words), 0) = 0 THEN t
                ELSE regexp_replace(t, '(' || array_to_string(p_words, '|') || ')', '<mark>\1</mark>', 'gi') END
    FROM replace(replace(replace(coalesce(p_text, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;') t
$$;

-- [{"value", "count"}] of the non-null values, most frequent first, at most 20.
CREATE FUNCTION mf_search_facet(p_values text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('value', v, 'count', n) ORDER BY n DESC, v), '[]')
    FROM (SELECT v, count(*) n FROM unnest(p_values) v WHERE v IS NOT NULL GROUP BY v
          ORDER BY count(*) DESC, v LIMIT 20) x
$$;

/*
 * One search page: items (a JSON array of at most p_limit), next_key (the last item's sort key,
 * NULL on the last page), facets and total over every match under the same filters. Runs as the
 * caller: Row Level Security keeps it to what the caller may read. Ranking tiers: a dataset's exact
 * name (also after typo correction), a term's exact name, a dataset's name words, a term's name
 * words, a dataset's field names, tags and terms, a field's own name, a field's tags and terms, then
 * descriptions (and owner, domain, namespace); within a tier by ts_rank and the fewer name words
 * first. The sort key is (score, kind, name, row id), so pages never overlap.
 */
CREATE FUNCTION mf_search(p_q text, p_kind text, p_domain text, p_owner text, p_tag text, p_format text,
                          p_namespace text, p_limit integer, p_after jsonb)
RETURNS TABLE (items jsonb, next_key jsonb, facets jsonb, total bigint)
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
        WHERE s.tenant_id = mf_current_tenant() AND s.tsv @@ q.qa AND mf_search_visible(s)
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
    f AS (
        SELECT jsonb_build_object(
            'kind', mf_search_facet(array_agg(kind)),
            'domain', mf_search_facet(array_agg(domain)),
            'owner', mf_search_facet(array_agg(owner)),
            'format', mf_search_facet(array_agg(nullif(format, ''))),
            'namespace', mf_search_facet(array_agg(namespace)),
            'tag', (SELECT mf_search_facet(array_agg(t)) FROM m, unnest(m.tags) t)) AS facets,
               count(*) AS total
        FROM m)
    SELECT items.items, items.next_key, f.facets, f.total FROM items, f
$$;

/*
 * Autocomplete: up to p_limit names of datasets, fields and terms whose name words start with the
 * words of p_q (corrected as in search): names that start with p_q first, then shorter names.
 */
CREATE FUNCTION mf_search_suggest(p_q text, p_limit integer) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH c AS (SELECT array_agg(w ORDER BY o) ws, array_agg(alt ORDER BY o) alts FROM mf_search_words_corrected(p_q)),
    m AS (
        SELECT s.kind, s.name, s.namespace, s.dataset,
               starts_with(lower(s.name), lower(btrim(p_q))) AS starts
        FROM search_index s, c
        WHERE s.tenant_id = mf_current_tenant() AND s.tsv @@ mf_search_query(c.ws, c.alts, 'A') AND mf_search_visible(s)),
    d AS (SELECT DISTINCT ON (kind, name, namespace, dataset) * FROM m)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'name', name, 'namespace', namespace,
                                                                   'dataset', dataset)) ORDER BY rk), '[]')
    FROM (SELECT d.*, row_number() OVER (ORDER BY starts DESC, length(name),
                                         CASE kind WHEN 'dataset' THEN 0 WHEN 'term' THEN 1 ELSE 2 END,
                                         name COLLATE "C", namespace COLLATE "C", dataset COLLATE "C") rk FROM d) x
    WHERE rk <= p_limit
$$;
