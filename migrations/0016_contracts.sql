-- 0016_contracts: data contracts. A contract names the datasets it governs
-- (a glob on the dataset's name, optionally one namespace), the columns they
-- must have (name, optional type, optional NOT NULL), whether other columns
-- are allowed, a minimum quality score and a freshness bound (the most
-- seconds since the dataset's last write), and what a violation does:
--   block  a write that leaves a governed dataset breaking the schema rules
--          is refused: SQLSTATE MFC09 (HTTP 409, code contract_violation)
--          naming each violation, and the transaction (or, in the ingest
--          worker, the event's subtransaction) writes nothing
--   warn   the write goes through; the violation is recorded, announced
--          (catalog event contract.violation, delivered by the webhooks
--          worker) and returned to a REST writer in the answer
--          ("contract_warnings")
--   alert  recorded and announced only: the writer is not told
--
-- Patterns. dataset_pattern is matched against the dataset's name as the API
-- writes it (datasets.name, without the namespace): '*' matches any run of
-- characters, '?' exactly one, everything else itself; '[', ']' and '\' are
-- reserved (refused) so a character class syntax can come later. A contract
-- with a dataset_namespace governs only datasets of that namespace.
--
-- Evaluation lives once, here: mf_contract_evaluate judges a dataset's
-- would-be field list against every contract of the tenant that governs it.
-- mf_apply_dataset (0002), which every write path goes through (REST
-- create/replace, the ingest worker's events, imports), keeps its body under
-- the name mf_apply_dataset_changes; mf_apply_dataset is now the wrapper that
-- applies the change set and then judges the fields it left, when the write
-- set the schema (a change set with "fields", or a REST create or replace,
-- where omitted fields mean none). Writes that leave the schema alone (row
-- counts, descriptions, tags; a pipeline's input known only by name) are not
-- judged: they cannot make the schema worse. A dataset's past states replayed
-- by a table-format import (0014 revisions) are writes like any other.
-- mf-ingest judges the same change sets at intake with mf_contract_intake, so
-- a block contract refuses an emit before it is queued; the worker judges
-- again at apply time (a contract created meanwhile), where a refusal fails
-- the event (ingest_failures) with the contract's message.
--
-- Quality thresholds are judged when a quality result is recorded (a trigger
-- on dataset_quality), on mf_quality_score (0015) after the insert. The
-- result is always kept, also under a block contract: a measurement is a fact
-- about data already written, and refusing it would hide exactly what the
-- contract is there to surface. Freshness bounds are judged by mf-analytics
-- (mf_contract_freshness_evaluate, every MF_FRESHNESS_INTERVAL seconds).
-- Violations of those two kinds under a block contract are recorded and
-- announced (action "reported").
--
-- Violations. At most one open violation per (contract, dataset, kind): a
-- repeat updates its details and counts it; a write, quality result or
-- evaluation that finds the dataset compliant resolves it (schema and
-- quality: "fixed"; freshness: "written", at the time of the write); changing
-- a contract resolves its open violations ("contract_changed"); deleting it
-- removes them. Only opening a violation is announced.
--
-- Access. Contracts are tenant-wide governance: only unscoped callers manage
-- them (the routes require admin); every member reads them. Violations are
-- read under the restrictive caller_scope policy: a scoped caller sees those
-- of the datasets it sees, and counts only those.

CREATE TABLE contracts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    dataset_pattern     text NOT NULL CHECK (length(dataset_pattern) BETWEEN 1 AND 512
                                             AND dataset_pattern !~ '[][\\]'),
    dataset_namespace   text CHECK (length(dataset_namespace) BETWEEN 1 AND 512),
    required_columns    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(required_columns) = 'array'),
    allow_extra_columns boolean NOT NULL DEFAULT true,
    min_quality_score   numeric(5, 2) CHECK (min_quality_score BETWEEN 0 AND 100),
    max_age_secs        integer CHECK (max_age_secs BETWEEN 1 AND 31536000),
    on_violation        text NOT NULL CHECK (on_violation IN ('block', 'warn', 'alert')),
    version             integer NOT NULL DEFAULT 1,
    created_by          text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE INDEX contracts_block ON contracts (tenant_id) WHERE on_violation = 'block';
CREATE INDEX contracts_freshness ON contracts (tenant_id) WHERE max_age_secs IS NOT NULL;

CREATE TABLE contract_violations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    contract_id  uuid NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    dataset_id   uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('schema', 'quality', 'freshness')),
    violations   text[] NOT NULL,           -- each violation, in words
    details      jsonb NOT NULL DEFAULT '{}', -- the figures behind them (score, age, ...)
    action       text NOT NULL CHECK (action IN ('warned', 'alerted', 'reported')),
    occurrences  integer NOT NULL DEFAULT 1,
    at           timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolution   text CHECK (resolution IN ('fixed', 'written', 'contract_changed')),
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE UNIQUE INDEX contract_violations_open ON contract_violations (contract_id, dataset_id, kind)
    WHERE resolved_at IS NULL;
CREATE INDEX contract_violations_contract ON contract_violations (contract_id, id DESC);
CREATE INDEX contract_violations_dataset ON contract_violations (dataset_id);

SELECT mf_enable_tenant_isolation(ARRAY['contracts', 'contract_violations']);
CREATE POLICY caller_scope ON contract_violations AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_id));
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON contracts
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_tenant_object_guard('contract');
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON contract_violations
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON contracts
    FOR EACH ROW EXECUTE FUNCTION mf_audit_row('contract');
GRANT SELECT, INSERT, UPDATE, DELETE ON contracts TO mf_app;
GRANT SELECT, INSERT, UPDATE ON contract_violations TO mf_app;

-- ---------- matching and judging ----------

-- The glob as a LIKE pattern ('%' and '_' literal; '\' is refused in patterns).
CREATE FUNCTION mf_contract_like(p_glob text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT translate(replace(replace(p_glob, '%', '\%'), '_', '\_'), '*?', '%_')
$$;

-- Does contract c govern dataset (p_ns, p_name)?
CREATE FUNCTION mf_contract_governs(c contracts, p_ns text, p_name text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (c.dataset_namespace IS NULL OR c.dataset_namespace = p_ns) AND p_name LIKE mf_contract_like(c.dataset_pattern)
$$;

-- A declared type is met by the same type in any case, or by it with parameters
-- ("decimal" by "DECIMAL(10,2)", "varchar" by "varchar(20)").
CREATE FUNCTION mf_contract_type_ok(p_actual text, p_expected text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT lower(p_actual) = lower(p_expected) OR starts_with(lower(p_actual), lower(p_expected) || '(')
$$;

-- What is wrong with a field list ([{name,type,nullable}], nullable absent: true) under contract
-- c's schema rules, in words, in the contract's column order then the fields' order. plpgsql,
-- not SQL: its statements' plans are kept for the session (a SQL function of this shape is
-- planned again on every call, which the intake would pay on every post).
CREATE FUNCTION mf_contract_schema_problems(c contracts, p_fields jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    by_name jsonb;
    f jsonb;
    w jsonb;
    out text[] := '{}';
BEGIN
    SELECT coalesce(jsonb_object_agg(x->>'name', x), '{}') INTO by_name
    FROM jsonb_array_elements(coalesce(p_fields, '[]')) x;
    FOR w IN SELECT * FROM jsonb_array_elements(c.required_columns) LOOP
        f := by_name->(w->>'name');
        IF f IS NULL THEN
            out := out || format('column %s is required', w->>'name');
        ELSIF w ? 'type' AND NOT mf_contract_type_ok(f->>'type', w->>'type') THEN
            out := out || format('column %s has type %s, expected %s', w->>'name', f->>'type', w->>'type');
        ELSIF w->'nullable' = 'false' AND coalesce((f->>'nullable')::boolean, true) THEN
            out := out || format('column %s is nullable, expected not null', w->>'name');
        END IF;
    END LOOP;
    IF NOT c.allow_extra_columns THEN
        FOR f IN SELECT * FROM jsonb_array_elements(coalesce(p_fields, '[]')) LOOP
            CONTINUE WHEN c.required_columns @> jsonb_build_array(jsonb_build_object('name', f->>'name'));
            out := out || format('column %s is not in the contract (extra columns are not allowed)', f->>'name');
        END LOOP;
    END IF;
    RETURN out;
END
$$;

/*
 * The one evaluation: the would-be field list p_fields of dataset (p_ns,
 * p_name) judged against every contract of the current tenant that governs
 * it and has schema rules. One row per such contract; problems is empty when
 * the fields comply.
 */
CREATE FUNCTION mf_contract_evaluate(p_ns text, p_name text, p_fields jsonb)
RETURNS TABLE (contract contracts, problems text[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT c, mf_contract_schema_problems(c, p_fields)
    FROM contracts c
    WHERE c.tenant_id = mf_current_tenant() AND mf_contract_governs(c, p_ns, p_name)
      AND (jsonb_array_length(c.required_columns) > 0 OR NOT c.allow_extra_columns)
    ORDER BY c.name;
END
$$;

-- A block contract's refusal in words: "contract orders_v1: column a is required; ... (dataset ns/name)".
CREATE FUNCTION mf_contract_message(p_contract text, p_problems text[], p_ns text, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('contract %s: %s (dataset %s/%s)', p_contract, array_to_string(p_problems, '; '), p_ns, p_name)
$$;

-- ---------- recording ----------

/*
 * Open (or, when one is open, update and count) the violation of contract c
 * by dataset d of this kind; announce it as a contract.violation catalog
 * event when it opens. Runs as the writer (Row Level Security) or as the
 * owner for the freshness evaluator; the tenant is the contract's.
 */
CREATE FUNCTION mf_contract_record(c contracts, d datasets, p_kind text, p_problems text[], p_details jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_action text := CASE c.on_violation WHEN 'warn' THEN 'warned' WHEN 'alert' THEN 'alerted' ELSE 'reported' END;
    v_id bigint;
    v_opened boolean;
BEGIN
    INSERT INTO contract_violations AS v (tenant_id, contract_id, dataset_id, kind, violations, details, action)
    VALUES (c.tenant_id, c.id, d.id, p_kind, p_problems, p_details, v_action)
    ON CONFLICT (contract_id, dataset_id, kind) WHERE resolved_at IS NULL
    DO UPDATE SET violations = EXCLUDED.violations, details = EXCLUDED.details, action = EXCLUDED.action,
                  occurrences = v.occurrences + 1, last_seen_at = now()
    RETURNING v.id, v.occurrences = 1 INTO v_id, v_opened;
    IF v_opened THEN
        INSERT INTO catalog_events (tenant_id, kind, dataset_id, detail)
        VALUES (c.tenant_id, 'contract.violation', d.id,
                jsonb_build_object('contract', c.name, 'on_violation', c.on_violation, 'action', v_action,
                                   'kind', p_kind, 'violations', to_jsonb(p_problems),
                                   'violation_id', v_id, 'namespace', d.namespace, 'name', d.name)
                || p_details);
    END IF;
END
$$;

-- Resolve the open violation of contract c by dataset p_dataset of this kind, if any.
CREATE FUNCTION mf_contract_resolve(c contracts, p_dataset uuid, p_kind text, p_resolution text, p_at timestamptz)
RETURNS void
LANGUAGE sql AS $$
    UPDATE contract_violations SET resolved_at = p_at, resolution = p_resolution
    WHERE contract_id = c.id AND dataset_id = p_dataset AND kind = p_kind AND resolved_at IS NULL
$$;

/*
 * Judge dataset p_id as the current write left it. A block contract it
 * breaks refuses the write (MFC09, every broken block contract named);
 * otherwise each warn or alert contract it breaks is recorded and each
 * contract it meets resolves its open schema violation. Returns the warn
 * contracts' violations for the writer ([{contract, violations}]), or NULL.
 */
CREATE FUNCTION mf_contract_check_write(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d datasets;
    e record;
    v_refusals text[] := '{}';
    v_warnings jsonb := '[]';
BEGIN
    SELECT * INTO d FROM datasets WHERE id = p_id;
    FOR e IN SELECT * FROM mf_contract_evaluate(d.namespace, d.name, mf_fields_json(d.id)) LOOP
        IF cardinality(e.problems) = 0 THEN
            PERFORM mf_contract_resolve(e.contract, d.id, 'schema', 'fixed', now());
        ELSIF (e.contract).on_violation = 'block' THEN
            v_refusals := v_refusals || mf_contract_message((e.contract).name, e.problems, d.namespace, d.name);
        ELSE
            PERFORM mf_contract_record(e.contract, d, 'schema', e.problems, '{}');
            IF (e.contract).on_violation = 'warn' THEN
                v_warnings := v_warnings || jsonb_build_object('contract', (e.contract).name,
                                                               'violations', to_jsonb(e.problems));
            END IF;
        END IF;
    END LOOP;
    IF cardinality(v_refusals) > 0 THEN
        -- the whole write is undone, these records included
        PERFORM mf_raise('C09', array_to_string(v_refusals, '. '));
    END IF;
    RETURN CASE WHEN jsonb_array_length(v_warnings) > 0 THEN v_warnings END;
END
$$;

-- ---------- the write path ----------

ALTER FUNCTION mf_apply_dataset(jsonb, text, integer) RENAME TO mf_apply_dataset_changes;

/*
 * Apply one change set (see 0002) and judge the dataset's schema against its
 * contracts when the write set it. Same arguments and result as before, the
 * document with "contract_warnings" added when a warn contract is broken.
 * A change set carrying "revision" is a past state an import replays
 * (0014, 0020): applied, not judged; contracts judge what a dataset is now.
 */
CREATE FUNCTION mf_apply_dataset(cs jsonb, p_mode text, p_if_match integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_doc jsonb := mf_apply_dataset_changes(cs - 'revision', p_mode, p_if_match);
    v_warnings jsonb;
BEGIN
    IF (cs ? 'fields' OR p_mode <> 'merge') AND NOT cs ? 'revision' THEN
        v_warnings := mf_contract_check_write((v_doc->>'id')::uuid);
    END IF;
    RETURN CASE WHEN v_warnings IS NULL THEN v_doc ELSE v_doc || jsonb_build_object('contract_warnings', v_warnings) END;
END
$$;

/*
 * mf-ingest's intake: judge the change sets of p_events (a JSON array of
 * decoded ingest events) that set a schema against tenant p_tenant's block
 * contracts, before anything is queued. Returns whether the tenant has a
 * block contract at all (mf-ingest caches it, to skip this call while it has
 * none) and the refused events: [{"index": i, "message": "..."}]. Runs as the
 * service under the tenant's Row Level Security (the tenant comes from the
 * verified credential); never raises for a violation.
 */
CREATE FUNCTION mf_contract_intake(p_tenant uuid, p_events jsonb, OUT has_block boolean, OUT refused jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    ev jsonb;
    i integer;
    cs jsonb;
    e record;
    v_msgs text[];
BEGIN
    PERFORM set_config('mf.tenant_id', p_tenant::text, true);
    has_block := EXISTS (SELECT 1 FROM contracts WHERE tenant_id = p_tenant AND on_violation = 'block');
    refused := '[]';
    IF NOT has_block OR jsonb_typeof(p_events) <> 'array' THEN
        RETURN;
    END IF;
    FOR ev, i IN SELECT x, o - 1 FROM jsonb_array_elements(p_events) WITH ORDINALITY AS y(x, o) LOOP
        v_msgs := '{}';
        FOR cs IN SELECT * FROM jsonb_array_elements(CASE WHEN jsonb_typeof(ev->'datasets') = 'array'
                                                          THEN ev->'datasets' ELSE '[]' END) LOOP
            CONTINUE WHEN NOT cs ? 'fields' OR cs ? 'revision'; -- a past state is history, not judged
            FOR e IN SELECT * FROM mf_contract_evaluate(cs->>'namespace', cs->>'name', cs->'fields')
                     WHERE (contract).on_violation = 'block' AND cardinality(problems) > 0 LOOP
                v_msgs := v_msgs || mf_contract_message((e.contract).name, e.problems, cs->>'namespace', cs->>'name');
            END LOOP;
        END LOOP;
        IF cardinality(v_msgs) > 0 THEN
            refused := refused || jsonb_build_object('index', i, 'message', array_to_string(v_msgs, '. '));
        END IF;
    END LOOP;
END
$$;

-- ---------- quality thresholds ----------

-- After a quality result: judge the dataset's score against the contracts with a minimum.
CREATE FUNCTION mf_contract_quality_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d datasets;
    c contracts;
    v_score numeric;
BEGIN
    SELECT * INTO d FROM datasets WHERE id = NEW.dataset_id;
    FOR c IN SELECT * FROM contracts x WHERE x.tenant_id = NEW.tenant_id AND x.min_quality_score IS NOT NULL
                                         AND mf_contract_governs(x, d.namespace, d.name) LOOP
        v_score := coalesce(v_score, mf_quality_score(d.id));
        CONTINUE WHEN v_score IS NULL;
        IF v_score < c.min_quality_score THEN
            PERFORM mf_contract_record(c, d, 'quality',
                                       ARRAY[format('quality score %s is below the minimum %s', v_score, c.min_quality_score)],
                                       jsonb_build_object('quality_score', v_score, 'min_quality_score', c.min_quality_score));
        ELSE
            PERFORM mf_contract_resolve(c, d.id, 'quality', 'fixed', now());
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- Triggers of one event fire in name order: this one after quality_latest (0015), which keeps
-- what mf_quality_score reads.
CREATE TRIGGER verdict_contracts AFTER INSERT ON dataset_quality
    FOR EACH ROW EXECUTE FUNCTION mf_contract_quality_check();

-- ---------- freshness bounds (mf-analytics) ----------

/*
 * mf-analytics: resolve the open freshness violations of datasets written
 * since (at the time of that write), then open violations for up to p_limit
 * governed datasets not written for longer than their contract's bound.
 * Returns how many it resolved and opened (the caller repeats while it gets
 * p_limit). Replicas may run it at once: the unique open index lets one of
 * them open (and announce) a violation. p_every_secs is the caller's interval
 * (unused: a bound is judged on every call).
 */
CREATE FUNCTION mf_contract_freshness_evaluate(p_every_secs integer, p_limit integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
    x record;
BEGIN
    WITH done AS (
        SELECT v.id, d.updated_at, c.max_age_secs IS NULL AS unbound
        FROM contract_violations v JOIN datasets d ON d.id = v.dataset_id JOIN contracts c ON c.id = v.contract_id
        WHERE v.kind = 'freshness' AND v.resolved_at IS NULL
          AND (c.max_age_secs IS NULL OR d.updated_at > (v.details->>'last_write_at')::timestamptz)
        ORDER BY v.id LIMIT p_limit FOR UPDATE OF v SKIP LOCKED)
    UPDATE contract_violations v
    SET resolved_at = CASE WHEN done.unbound THEN now() ELSE done.updated_at END,
        resolution = CASE WHEN done.unbound THEN 'contract_changed' ELSE 'written' END
    FROM done WHERE v.id = done.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    FOR x IN SELECT c, d FROM contracts c
             JOIN tenants t ON t.id = c.tenant_id AND t.status = 'active'
             JOIN datasets d ON d.tenant_id = c.tenant_id
                            AND d.updated_at < now() - make_interval(secs => c.max_age_secs)
                            AND mf_contract_governs(c, d.namespace, d.name)
             WHERE c.max_age_secs IS NOT NULL AND NOT d.placeholder AND d.lifecycle = 'active'
               AND NOT EXISTS (SELECT 1 FROM contract_violations v WHERE v.contract_id = c.id AND v.dataset_id = d.id
                                 AND v.kind = 'freshness' AND v.resolved_at IS NULL)
             LIMIT greatest(p_limit - n, 0) LOOP
        PERFORM mf_contract_record(x.c, x.d, 'freshness',
            ARRAY[format('last written %s seconds ago, more than the bound of %s seconds',
                         floor(extract(epoch FROM now() - (x.d).updated_at))::bigint, (x.c).max_age_secs)],
            jsonb_build_object('last_write_at', (x.d).updated_at, 'max_age_secs', (x.c).max_age_secs));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION mf_contract_freshness_evaluate(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_contract_freshness_evaluate(integer, integer) TO mf_app;

-- ---------- the API's side ----------

CREATE FUNCTION mf_contract_doc(c contracts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'name', c.name, 'description', c.description, 'dataset_pattern', c.dataset_pattern,
        'dataset_namespace', c.dataset_namespace, 'required_columns', c.required_columns,
        'allow_extra_columns', c.allow_extra_columns, 'min_quality_score', c.min_quality_score,
        'max_age_secs', c.max_age_secs, 'on_violation', c.on_violation,
        'open_violations', (SELECT count(*) FROM contract_violations v WHERE v.contract_id = c.id
                                                                       AND v.resolved_at IS NULL),
        'version', c.version, 'created_by', c.created_by,
        'created_at', mf_ts(c.created_at), 'updated_at', mf_ts(c.updated_at))
$$;

CREATE FUNCTION mf_contract_violation_doc(v contract_violations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'contract', (SELECT name FROM contracts WHERE id = v.contract_id),
        'dataset', (SELECT mf_ref(namespace, name) FROM datasets WHERE id = v.dataset_id),
        'kind', v.kind, 'violations', to_jsonb(v.violations), 'details', v.details, 'action', v.action,
        'occurrences', v.occurrences, 'open', v.resolved_at IS NULL, 'at', mf_ts(v.at),
        'last_seen_at', mf_ts(v.last_seen_at), 'resolved_at', mf_ts(v.resolved_at), 'resolution', v.resolution)
$$;

-- Contracts belong to the whole tenant: a scoped credential may not manage them.
CREATE FUNCTION mf_contract_require_unscoped() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT mf_access_unscoped() THEN
        PERFORM mf_raise('403', 'contracts belong to the whole tenant: a scoped credential may not manage them');
    END IF;
END
$$;

-- The contract named p_name, locked; 404 when the tenant has none by that name.
CREATE FUNCTION mf_contract_for_update(p_name text) RETURNS contracts
LANGUAGE plpgsql AS $$
DECLARE c contracts;
BEGIN
    SELECT * INTO c FROM contracts WHERE tenant_id = mf_current_tenant() AND name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', format('contract "%s" not found', p_name));
    END IF;
    RETURN c;
END
$$;

-- If-Match against the contract's version ("N", W/"N" or N; "*" or NULL: any); 412 otherwise.
CREATE FUNCTION mf_contract_check_if_match(c contracts, p_if_match text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE v_tag text := btrim(regexp_replace(coalesce(p_if_match, '*'), '^W/', ''), '"');
BEGIN
    IF v_tag <> '*' AND v_tag IS DISTINCT FROM c.version::text THEN
        PERFORM mf_raise('412', format('contract "%s" is at version %s, not %s', c.name, c.version, p_if_match));
    END IF;
END
$$;

/*
 * Create (p_if_match ignored; 409 when the name is taken) or replace (404
 * when absent; 412 on a stale If-Match) contract p_name from p_body, the
 * normalized body the service validated. Replacing resolves the contract's
 * open violations: they judged rules that no longer hold. Returns the
 * document and the version.
 */
CREATE FUNCTION mf_contract_put(p_name text, p_body jsonb, p_create boolean, p_if_match text,
                                OUT doc text, OUT version integer)
LANGUAGE plpgsql AS $$
DECLARE c contracts;
BEGIN
    PERFORM mf_contract_require_unscoped();
    IF p_create THEN
        IF (SELECT count(*) FROM contracts WHERE tenant_id = mf_current_tenant()) >= 1000 THEN
            PERFORM mf_raise('400', 'a tenant has at most 1000 contracts');
        END IF;
        INSERT INTO contracts (tenant_id, name, created_by, description, dataset_pattern, dataset_namespace, required_columns,
                               allow_extra_columns, min_quality_score, max_age_secs, on_violation)
        VALUES (mf_current_tenant(), p_name, coalesce(current_setting('mf.actor', true), ''),
                p_body->>'description', p_body->>'dataset_pattern', p_body->>'dataset_namespace', p_body->'required_columns',
                (p_body->>'allow_extra_columns')::boolean, (p_body->>'min_quality_score')::numeric,
                (p_body->>'max_age_secs')::integer, p_body->>'on_violation')
        ON CONFLICT (tenant_id, name) DO NOTHING RETURNING * INTO c;
        IF c.id IS NULL THEN
            PERFORM mf_raise('409', format('contract "%s" already exists', p_name));
        END IF;
    ELSE
        c := mf_contract_for_update(p_name);
        PERFORM mf_contract_check_if_match(c, p_if_match);
        UPDATE contract_violations SET resolved_at = now(), resolution = 'contract_changed'
        WHERE contract_id = c.id AND resolved_at IS NULL;
        UPDATE contracts SET
            description = p_body->>'description', dataset_pattern = p_body->>'dataset_pattern',
            dataset_namespace = p_body->>'dataset_namespace', required_columns = p_body->'required_columns',
            allow_extra_columns = (p_body->>'allow_extra_columns')::boolean,
            min_quality_score = (p_body->>'min_quality_score')::numeric,
            max_age_secs = (p_body->>'max_age_secs')::integer, on_violation = p_body->>'on_violation',
            version = contracts.version + 1, updated_at = now()
        WHERE id = c.id RETURNING * INTO c;
    END IF;
    doc := mf_contract_doc(c)::text;
    version := c.version;
END
$$;

-- Delete contract p_name (404 when absent); its violations go with it.
CREATE FUNCTION mf_contract_delete(p_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE c contracts;
BEGIN
    PERFORM mf_contract_require_unscoped();
    c := mf_contract_for_update(p_name);
    DELETE FROM contracts WHERE id = c.id;
END
$$;

CREATE FUNCTION mf_contract_list(p_limit integer, p_after jsonb)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT c, row_number() OVER (ORDER BY c.name) AS n
        FROM contracts c
        WHERE c.tenant_id = mf_current_tenant() AND (p_after IS NULL OR c.name > p_after->>0)
        ORDER BY c.name LIMIT p_limit + 1)
    SELECT coalesce(jsonb_agg(mf_contract_doc(c) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN jsonb_build_array(max((c).name) FILTER (WHERE n <= p_limit))::text END
    FROM page
$$;

-- The violations of contract p_name (404 when absent), newest first, as the caller sees them.
CREATE FUNCTION mf_contract_violations(p_limit integer, p_after jsonb, p_name text, p_ns text, p_dataset text,
                                       p_open boolean, p_kind text)
RETURNS TABLE (items text, next_key text)
LANGUAGE plpgsql STABLE AS $$
DECLARE v_contract uuid;
BEGIN
    SELECT id INTO v_contract FROM contracts WHERE tenant_id = mf_current_tenant() AND name = p_name;
    IF v_contract IS NULL THEN
        PERFORM mf_raise('404', format('contract "%s" not found', p_name));
    END IF;
    RETURN QUERY
    WITH page AS (
        SELECT v, row_number() OVER (ORDER BY v.id DESC) AS n
        FROM contract_violations v JOIN datasets d ON d.id = v.dataset_id
        WHERE v.contract_id = v_contract
          AND (p_after IS NULL OR v.id < (SELECT mf_cursor_bigint(p_after)))
          AND (p_ns IS NULL OR d.namespace = p_ns) AND (p_dataset IS NULL OR d.name = p_dataset)
          AND (p_open IS NULL OR (v.resolved_at IS NULL) = p_open) AND (p_kind IS NULL OR v.kind = p_kind)
        ORDER BY v.id DESC LIMIT p_limit + 1)
    SELECT coalesce(jsonb_agg(mf_contract_violation_doc(v) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN jsonb_build_array(min((v).id) FILTER (WHERE n <= p_limit))::text END
    FROM page;
END
$$;
