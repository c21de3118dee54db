-- 0011_freshness_health: freshness policies on datasets, their violations,
-- and daily catalog-health snapshots.
--
-- Freshness. A dataset's last update is datasets.updated_at, which every
-- write path bumps (REST writes, emit and OpenLineage events through
-- mf_apply_dataset, tags, lineage). A policy says how old that may get:
--   due_at    last update + expected_interval_secs; with a cron schedule,
--             the first scheduled time (in the policy's timezone) at or
--             after that instant: the data is expected by the schedule's
--             next tick once the interval has passed
--   status    fresh before due_at, late until due_at + grace_period_secs,
--             stale after
-- mf-analytics evaluates due policies (mf_freshness_evaluate) and records
-- each change of status on the policy row, under that row's lock: a
-- violation opens when a dataset stops being fresh, takes the worst status
-- it reached, and is resolved when the dataset is fresh again (resolution
-- data_arrived, policy_changed or policy_removed). Becoming stale and
-- becoming fresh again through new data are catalog events (dataset.stale,
-- dataset.fresh_again) that the webhooks worker delivers.
--
-- Catalog health. mf_health_cells computes the figures of a tenant's
-- datasets grouped by (domain, owner): the API sums them live for today,
-- under the caller's Row Level Security (a scoped caller counts only what it
-- sees); mf-analytics stores them once per interval as the day's snapshot
-- (mf_health_snapshot) for the 30-day trend.

-- ---------- cron schedules ----------

-- The values one cron field allows, sorted (lo..hi; names: 3-letter names
-- numbered from lo, e.g. jan = 1, sun = 0). Accepts *, n, a-b, */s, a-b/s,
-- a/s and comma lists; raises 400 naming the field otherwise.
CREATE FUNCTION mf_cron_field(p_spec text, p_what text, p_lo integer, p_hi integer, p_names text[])
RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    item text;
    m text[];
    a integer;
    b integer;
    step integer;
    out integer[] := '{}';
BEGIN
    FOREACH item IN ARRAY string_to_array(lower(p_spec), ',') LOOP
        -- names become numbers first (jan -> 1, sun -> 0)
        IF p_names IS NOT NULL THEN
            FOR a IN 1 .. array_length(p_names, 1) LOOP
                item := replace(item, p_names[a], (p_lo + a - 1)::text);
            END LOOP;
        END IF;
        m := regexp_match(item, '^(\*|([0-9]{1,2})(-([0-9]{1,2}))?)(/([0-9]{1,2}))?$');
        IF m IS NULL THEN
            PERFORM mf_raise('400', format('cron_schedule: %s field "%s" is not a number, range, list or step',
                                           p_what, p_spec));
        END IF;
        a := CASE WHEN m[1] = '*' THEN p_lo ELSE m[2]::integer END;
        b := CASE WHEN m[1] = '*' OR (m[4] IS NULL AND m[6] IS NOT NULL) THEN p_hi ELSE coalesce(m[4]::integer, a) END;
        step := coalesce(m[6]::integer, 1);
        IF a < p_lo OR b > p_hi OR a > b OR step < 1 THEN
            PERFORM mf_raise('400', format('cron_schedule: %s field "%s" must stay within %s-%s (steps from 1)', p_what, p_spec,
                                           p_lo, p_hi));
        END IF;
        out := out || ARRAY(SELECT generate_series(a, b, step));
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(out) x ORDER BY x);
END
$$;

-- A 5-field cron expression (minute hour day-of-month month day-of-week)
-- as its allowed values. As in Vixie cron, when both day fields are
-- restricted (do not start with *) a day matches either; 7 is Sunday too.
CREATE FUNCTION mf_cron_parse(p_expr text, OUT minutes integer[], OUT hours integer[], OUT doms integer[],
                              OUT months integer[], OUT dows integer[], OUT any_dom boolean, OUT any_dow boolean)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE f text[] := regexp_split_to_array(btrim(p_expr), '\s+');
BEGIN
    IF array_length(f, 1) IS DISTINCT FROM 5 THEN
        PERFORM mf_raise('400', 'cron_schedule must have 5 fields: minute hour day-of-month month day-of-week');
    END IF;
    minutes := mf_cron_field(f[1], 'minute', 0, 59, NULL);
    hours := mf_cron_field(f[2], 'hour', 0, 23, NULL);
    doms := mf_cron_field(f[3], 'day-of-month', 1, 31, NULL);
    months := mf_cron_field(f[4], 'month', 1, 12,
                            '{jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec}');
    dows := ARRAY(SELECT DISTINCT x % 7 FROM unnest(mf_cron_field(f[5], 'day-of-week', 0, 7,
                                                                   '{sun,mon,tue,wed,thu,fri,sat}')) x ORDER BY 1);
    any_dom := left(f[3], 1) = '*';
    any_dow := left(f[5], 1) = '*';
END
$$;

-- The first time at or after p_from (whole minutes) that the schedule fires
-- in time zone p_tz, or NULL when it fires on no day of the next four years
-- (e.g. "0 0 31 2 *").
CREATE FUNCTION mf_cron_next(p_expr text, p_tz text, p_from timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c record;
    local_from timestamp := p_from AT TIME ZONE p_tz;
    v_day date;
    h integer;
    m integer;
    cand timestamptz;
BEGIN
    SELECT * INTO c FROM mf_cron_parse(p_expr);
    FOR i IN 0 .. 4 * 366 LOOP
        v_day := local_from::date + i;
        CONTINUE WHEN NOT extract(month FROM v_day)::integer = ANY (c.months);
        CONTINUE WHEN NOT CASE
            WHEN c.any_dom AND c.any_dow THEN true
            WHEN c.any_dom THEN extract(dow FROM v_day)::integer = ANY (c.dows)
            WHEN c.any_dow THEN extract(day FROM v_day)::integer = ANY (c.doms)
            ELSE extract(day FROM v_day)::integer = ANY (c.doms) OR extract(dow FROM v_day)::integer = ANY (c.dows) END;
        FOREACH h IN ARRAY c.hours LOOP
            FOREACH m IN ARRAY c.minutes LOOP
                cand := (v_day + make_interval(hours => h, mins => m)) AT TIME ZONE p_tz;
                IF cand >= p_from THEN
                    RETURN cand;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;

-- ---------- freshness ----------

CREATE TABLE freshness_policies (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id             uuid NOT NULL UNIQUE REFERENCES datasets(id) ON DELETE CASCADE,
    expected_interval_secs integer NOT NULL CHECK (expected_interval_secs BETWEEN 1 AND 31536000),
    grace_period_secs      integer NOT NULL CHECK (grace_period_secs BETWEEN 0 AND 31536000),
    cron_schedule          text CHECK (length(cron_schedule) <= 128),
    timezone               text NOT NULL DEFAULT 'UTC',
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- the evaluator's state: the status recorded last, for the update it saw
    status                 text NOT NULL DEFAULT 'fresh' CHECK (status IN ('fresh', 'late', 'stale')),
    status_since           timestamptz NOT NULL DEFAULT now(),
    last_update_at         timestamptz,
    due_at                 timestamptz,   -- for last_update_at; NULL: to compute
    evaluated_at           timestamptz,
    next_check_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX freshness_policies_due ON freshness_policies (next_check_at);
CREATE INDEX freshness_policies_tenant ON freshness_policies (tenant_id, status);

CREATE TABLE freshness_violations (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id            uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    status                text NOT NULL CHECK (status IN ('late', 'stale')), -- the worst reached
    due_at                timestamptz NOT NULL,
    last_update_at        timestamptz NOT NULL,
    opened_at             timestamptz NOT NULL DEFAULT now(),
    stale_at              timestamptz,
    resolved_at           timestamptz,
    resolution            text CHECK (resolution IN ('data_arrived', 'policy_changed', 'policy_removed',
                                                 'dataset_dropped')),
    resolved_by_update_at timestamptz,
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE UNIQUE INDEX freshness_violations_open ON freshness_violations (dataset_id) WHERE resolved_at IS NULL;
CREATE INDEX freshness_violations_tenant ON freshness_violations (tenant_id, id DESC);
CREATE INDEX freshness_violations_dataset ON freshness_violations (dataset_id, id DESC);

SELECT mf_enable_tenant_isolation(ARRAY['freshness_policies', 'freshness_violations']);
-- a scoped caller reads the policies and violations of the datasets it sees (0007)
CREATE POLICY caller_scope ON freshness_policies AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_id));
CREATE POLICY caller_scope ON freshness_violations AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON freshness_policies TO mf_app;
GRANT SELECT, UPDATE ON freshness_violations TO mf_app;

-- When data of this policy is due after an update at p_update.
CREATE FUNCTION mf_freshness_due(p freshness_policies, p_update timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.cron_schedule IS NULL THEN p_update + make_interval(secs => p.expected_interval_secs)
                ELSE mf_cron_next(p.cron_schedule, p.timezone, p_update + make_interval(secs => p.expected_interval_secs))
           END
$$;

-- The status at p_now of data due at p_due (NULL: never due).
CREATE FUNCTION mf_freshness_status(p freshness_policies, p_due timestamptz, p_now timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_due IS NULL OR p_now < p_due THEN 'fresh'
                WHEN p_now < p_due + make_interval(secs => p.grace_period_secs) THEN 'late'
                ELSE 'stale' END
$$;

-- A policy as the API shows it, with the dataset's status now.
CREATE FUNCTION mf_freshness_doc(p freshness_policies) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d datasets;
    v_due timestamptz;
BEGIN
    SELECT * INTO d FROM datasets WHERE id = p.dataset_id;
    v_due := CASE WHEN p.due_at IS NOT NULL AND p.last_update_at = d.updated_at THEN p.due_at
                  ELSE mf_freshness_due(p, d.updated_at) END;
    RETURN jsonb_build_object(
        'dataset', mf_ref(d.namespace, d.name),
        'expected_interval_secs', p.expected_interval_secs, 'grace_period_secs', p.grace_period_secs,
        'cron_schedule', p.cron_schedule, 'timezone', p.timezone,
        'status', mf_freshness_status(p, v_due, now()),
        'last_update_at', mf_ts(d.updated_at), 'due_at', mf_ts(v_due),
        'stale_at', mf_ts(v_due + make_interval(secs => p.grace_period_secs)),
        'evaluated_status', p.status, 'evaluated_at', mf_ts(p.evaluated_at),
        'created_at', mf_ts(p.created_at), 'updated_at', mf_ts(p.updated_at));
END
$$;

CREATE FUNCTION mf_freshness_violation_doc(v freshness_violations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'dataset', (SELECT mf_ref(namespace, name) FROM datasets WHERE id = v.dataset_id),
        'status', v.status, 'open', v.resolved_at IS NULL,
        'due_at', mf_ts(v.due_at), 'last_update_at', mf_ts(v.last_update_at),
        'opened_at', mf_ts(v.opened_at), 'stale_at', mf_ts(v.stale_at),
        'resolved_at', mf_ts(v.resolved_at), 'resolution', v.resolution,
        'resolved_by_update_at', mf_ts(v.resolved_by_update_at))
$$;

-- The visible dataset (namespace, name) the caller may write, or 404 / 403.
CREATE FUNCTION mf_freshness_dataset(p_ns text, p_name text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE v_id uuid := mf_dataset_id(p_ns, p_name);
BEGIN
    PERFORM mf_access_check_dataset(v_id);
    RETURN v_id;
END
$$;

-- Create or replace the policy of a dataset (400 on a bad schedule or
-- zone); returns the document and whether it was created. The evaluator
-- looks at it again at once.
CREATE FUNCTION mf_freshness_put(p_ns text, p_name text, p_interval integer, p_grace integer, p_cron text,
                                 p_tz text, OUT doc jsonb, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_ds uuid := mf_freshness_dataset(p_ns, p_name);
    v_tz text;
    p freshness_policies;
BEGIN
    SELECT name INTO v_tz FROM pg_timezone_names WHERE name = coalesce(p_tz, 'UTC');
    IF v_tz IS NULL THEN
        PERFORM mf_raise('400', format('timezone "%s" is not an IANA time zone name', p_tz));
    END IF;
    IF p_cron IS NOT NULL AND mf_cron_next(p_cron, v_tz, now()) IS NULL THEN
        PERFORM mf_raise('400', format('cron_schedule "%s" never fires', p_cron));
    END IF;
    INSERT INTO freshness_policies AS x (tenant_id, dataset_id, expected_interval_secs, grace_period_secs,
                                         cron_schedule, timezone)
    VALUES (mf_current_tenant(), v_ds, p_interval, p_grace, p_cron, v_tz)
    ON CONFLICT (dataset_id) DO UPDATE SET
        expected_interval_secs = EXCLUDED.expected_interval_secs, grace_period_secs = EXCLUDED.grace_period_secs,
        cron_schedule = EXCLUDED.cron_schedule, timezone = EXCLUDED.timezone, updated_at = now(),
        due_at = NULL, next_check_at = now()
    RETURNING x.xmax = 0 INTO created;
    SELECT * INTO p FROM freshness_policies WHERE dataset_id = v_ds;
    doc := mf_freshness_doc(p);
END
$$;

-- Remove a dataset's policy (404 when it has none); its open violation is
-- resolved as policy_removed.
CREATE FUNCTION mf_freshness_delete(p_ns text, p_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE v_ds uuid := mf_freshness_dataset(p_ns, p_name);
BEGIN
    DELETE FROM freshness_policies WHERE dataset_id = v_ds;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', format('dataset %s/%s has no freshness policy', p_ns, p_name));
    END IF;
    UPDATE freshness_violations SET resolved_at = now(), resolution = 'policy_removed'
    WHERE dataset_id = v_ds AND resolved_at IS NULL;
END
$$;

-- Policy changes are audited with the dataset as target; the evaluator's
-- bookkeeping (status, due and check times) is not a change.
CREATE FUNCTION mf_freshness_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_j jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    keep text[] := '{tenant_id,dataset_id,expected_interval_secs,grace_period_secs,cron_schedule,timezone}';
    v_ds uuid := coalesce(NEW.dataset_id, OLD.dataset_id);
BEGIN
    old_j := (SELECT jsonb_object_agg(k, old_j->k) FROM unnest(keep) k WHERE old_j IS NOT NULL);
    new_j := (SELECT jsonb_object_agg(k, new_j->k) FROM unnest(keep) k WHERE new_j IS NOT NULL);
    IF TG_OP = 'UPDATE' AND old_j = new_j THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
    VALUES (coalesce(NEW.tenant_id, OLD.tenant_id), coalesce(current_setting('mf.actor', true), ''),
            'freshness_policy.' || CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE lower(TG_OP) END,
            coalesce((SELECT namespace || '/' || name FROM datasets WHERE id = v_ds), v_ds::text),
            coalesce(current_setting('mf.request_id', true), ''),
            coalesce(current_setting('mf.client_addr', true), ''), old_j, new_j);
    RETURN NULL;
END
$$;
CREATE TRIGGER audit AFTER INSERT OR DELETE OR UPDATE OF expected_interval_secs, grace_period_secs, cron_schedule,
    timezone ON freshness_policies FOR EACH ROW EXECUTE FUNCTION mf_freshness_audit();

-- A freshness transition of dataset d for the outbox (catalog_events).
CREATE FUNCTION mf_freshness_event(p_kind text, p freshness_policies, d datasets, p_extra jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO catalog_events (tenant_id, kind, dataset_id, detail)
    VALUES (p.tenant_id, p_kind, d.id,
            jsonb_build_object('namespace', d.namespace, 'name', d.name, 'status', p.status,
                               'last_update_at', mf_ts(d.updated_at), 'due_at', mf_ts(p.due_at),
                               'expected_interval_secs', p.expected_interval_secs,
                               'grace_period_secs', p.grace_period_secs,
                               'cron_schedule', p.cron_schedule, 'timezone', p.timezone) || p_extra)
$$;

/*
 * mf-analytics: evaluate up to p_limit due policies of every tenant; returns
 * how many (the caller repeats while it gets p_limit). Each policy is claimed with FOR UPDATE SKIP LOCKED and its
 * transition decided against the status stored on it, so replicas running
 * side by side never record (or announce) the same transition twice. A
 * fresh policy is next due at its deadline; a late or stale one at the next
 * evaluation, p_every_secs later, so that arriving data resolves it promptly.
 */
CREATE FUNCTION mf_freshness_evaluate(p_every_secs integer, p_limit integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p freshness_policies;
    d datasets;
    v_old text;
    v_arrived boolean;
    v_open freshness_violations;
    n integer := 0;
BEGIN
    FOR p IN SELECT * FROM freshness_policies WHERE next_check_at <= now()
             ORDER BY next_check_at LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
        n := n + 1;
        SELECT * INTO d FROM datasets WHERE id = p.dataset_id;
        -- A dropped dataset is not expected to get data: its open violation
        -- closes and it is not checked again until it comes back.
        IF d.lifecycle = 'dropped' THEN
            UPDATE freshness_violations SET resolved_at = now(), resolution = 'dataset_dropped'
            WHERE dataset_id = p.dataset_id AND resolved_at IS NULL;
            UPDATE freshness_policies SET status = 'fresh', status_since = now(), evaluated_at = now(),
                due_at = NULL, next_check_at = now() + interval '1 hour'
            WHERE id = p.id;
            CONTINUE;
        END IF;
        v_old := p.status;
        v_arrived := p.last_update_at IS NOT NULL AND d.updated_at > p.last_update_at;
        IF p.due_at IS NULL OR p.last_update_at IS DISTINCT FROM d.updated_at THEN
            p.due_at := mf_freshness_due(p, d.updated_at);
            p.last_update_at := d.updated_at;
        END IF;
        p.status := mf_freshness_status(p, p.due_at, now());
        IF p.status <> v_old THEN
            p.status_since := now();
            SELECT * INTO v_open FROM freshness_violations WHERE dataset_id = p.dataset_id AND resolved_at IS NULL;
            IF p.status = 'fresh' THEN
                UPDATE freshness_violations SET resolved_at = now(),
                    resolution = CASE WHEN d.updated_at > last_update_at THEN 'data_arrived' ELSE 'policy_changed' END,
                    resolved_by_update_at = CASE WHEN d.updated_at > last_update_at THEN d.updated_at END
                WHERE id = v_open.id;
                IF v_arrived THEN
                    PERFORM mf_freshness_event('dataset.fresh_again', p, d,
                                               jsonb_build_object('previous_status', v_old, 'violation_id', v_open.id));
                END IF;
            ELSIF v_open.id IS NULL THEN
                INSERT INTO freshness_violations (tenant_id, dataset_id, status, due_at, last_update_at, stale_at)
                VALUES (p.tenant_id, p.dataset_id, p.status, p.due_at, d.updated_at,
                        CASE WHEN p.status = 'stale' THEN now() END)
                RETURNING * INTO v_open;
            ELSIF p.status = 'stale' THEN
                UPDATE freshness_violations SET status = 'stale', stale_at = coalesce(stale_at, now())
                WHERE id = v_open.id;
            END IF;
            IF p.status = 'stale' THEN
                PERFORM mf_freshness_event('dataset.stale', p, d,
                                           jsonb_build_object('previous_status', v_old, 'violation_id', v_open.id));
            END IF;
        END IF;
        UPDATE freshness_policies SET status = p.status, status_since = p.status_since,
            last_update_at = p.last_update_at, due_at = p.due_at, evaluated_at = now(),
            next_check_at = CASE WHEN p.status = 'fresh' AND p.due_at IS NOT NULL THEN p.due_at
                                 WHEN p.status = 'fresh' THEN now() + interval '1 day'
                                 ELSE now() + make_interval(secs => p_every_secs) END
        WHERE id = p.id;
    END LOOP;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION mf_freshness_evaluate(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_freshness_evaluate(integer, integer) TO mf_app;

-- ---------- catalog health ----------

-- What is counted for one (domain, owner) group of a tenant's datasets on
-- one day (active datasets that are not placeholders).
CREATE TABLE catalog_health_cells (
    tenant_id           uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    day                 date NOT NULL,
    domain_id           uuid,
    owner_id            uuid,
    domain              text,
    owner               text,
    datasets            integer NOT NULL,
    without_owner       integer NOT NULL,
    without_description integer NOT NULL,
    stale               integer NOT NULL,
    unused              integer NOT NULL,
    breaking_changes    integer NOT NULL,   -- datasets with a breaking schema change in the last 7 days
    failing_quality     integer NOT NULL,   -- datasets whose latest assertions include a failure
    fields              integer NOT NULL,
    documented_fields   integer NOT NULL,
    UNIQUE NULLS NOT DISTINCT (tenant_id, day, domain_id, owner_id)
);

-- One row per tenant and day with a snapshot (also when the tenant has no datasets).
CREATE TABLE catalog_health_snapshots (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    day       date NOT NULL,
    taken_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day)
);

SELECT mf_enable_tenant_isolation(ARRAY['catalog_health_cells', 'catalog_health_snapshots']);
-- a domain-scoped caller reads its domain's history; a dataset-scoped one none
CREATE POLICY caller_scope ON catalog_health_cells AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR domain_id = (SELECT mf_access_scope_domain()));
GRANT SELECT ON catalog_health_cells, catalog_health_snapshots TO mf_app;

CREATE FUNCTION mf_utc_today() RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'UTC')::date
$$;

/*
 * The health cells of tenant p_tenant now, as the caller sees the catalog
 * (called by the API under Row Level Security, by the snapshot as the owner).
 * "unused": no reads in the last 30 days (dataset_usage_daily); plpgsql so
 * that the usage table is looked up when this runs.
 */
CREATE FUNCTION mf_health_cells(p_tenant uuid) RETURNS SETOF catalog_health_cells
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT p_tenant, mf_utc_today(), d.domain_id, d.owner_id, m.name, o.name,
           count(*)::integer,
           (count(*) FILTER (WHERE d.owner_id IS NULL))::integer,
           (count(*) FILTER (WHERE btrim(d.description) = ''))::integer,
           (count(*) FILTER (WHERE fp.status = 'stale'))::integer,
           (count(*) FILTER (WHERE NOT EXISTS (
               SELECT 1 FROM dataset_usage_daily u
               WHERE u.dataset_id = d.id AND u.day > mf_utc_today() - 30 AND u.reads > 0)))::integer,
           (count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM dataset_versions v
               WHERE v.dataset_id = d.id AND v.breaking AND v.created_at > now() - interval '7 days')))::integer,
           (count(*) FILTER (WHERE (SELECT q.assertions FROM dataset_quality q
                                    WHERE q.dataset_id = d.id AND jsonb_typeof(q.assertions) = 'array'
                                    ORDER BY q.id DESC LIMIT 1) @> '[{"success": false}]'))::integer,
           coalesce(sum(f.n), 0)::integer, coalesce(sum(f.documented), 0)::integer
    FROM datasets d
    LEFT JOIN domains m ON m.id = d.domain_id
    LEFT JOIN owners o ON o.id = d.owner_id
    LEFT JOIN freshness_policies fp ON fp.dataset_id = d.id
    LEFT JOIN (SELECT x.dataset_id, count(*) n, count(*) FILTER (WHERE btrim(x.description) <> '') documented
               FROM fields x WHERE x.tenant_id = p_tenant GROUP BY x.dataset_id) f ON f.dataset_id = d.id
    WHERE d.tenant_id = p_tenant AND NOT d.placeholder AND d.lifecycle = 'active'
    GROUP BY d.domain_id, d.owner_id, m.name, o.name;
END
$$;

-- The figures of a set of cells, summed.
CREATE FUNCTION mf_health_figures(p_cells catalog_health_cells[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'datasets', coalesce(sum(c.datasets), 0), 'without_owner', coalesce(sum(c.without_owner), 0),
        'without_description', coalesce(sum(c.without_description), 0), 'stale', coalesce(sum(c.stale), 0),
        'unused', coalesce(sum(c.unused), 0), 'breaking_changes_7d', coalesce(sum(c.breaking_changes), 0),
        'failing_quality', coalesce(sum(c.failing_quality), 0),
        'documentation_coverage', CASE WHEN sum(c.datasets) > 0
                                       THEN round(1 - sum(c.without_description)::numeric / sum(c.datasets), 4) END,
        'field_documentation_coverage', CASE WHEN sum(c.fields) > 0
                                             THEN round(sum(c.documented_fields)::numeric / sum(c.fields), 4) END)
    FROM unnest(coalesce(p_cells, '{}')) c
$$;

-- The caller's catalog health: today's figures live (with the breakdown by
-- domain and by owner) and the daily trend of the last 30 days.
CREATE FUNCTION mf_health_report() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH now_cells AS (SELECT c FROM mf_health_cells(mf_current_tenant()) c),
    today AS (SELECT mf_health_figures(array_agg(c)) f FROM now_cells),
    history AS (
        SELECT s.day, mf_health_figures(array_agg(h) FILTER (WHERE h.day IS NOT NULL)) f
        FROM catalog_health_snapshots s
        LEFT JOIN catalog_health_cells h ON h.tenant_id = s.tenant_id AND h.day = s.day
        WHERE s.tenant_id = mf_current_tenant() AND s.day > mf_utc_today() - 30 AND s.day < mf_utc_today()
        GROUP BY s.day)
    SELECT jsonb_build_object(
        'as_of', mf_ts(now()),
        'summary', (SELECT f FROM today),
        'by_domain', (SELECT coalesce(jsonb_agg(jsonb_build_object('domain', domain) || f ORDER BY domain NULLS LAST), '[]')
                      FROM (SELECT (c).domain, mf_health_figures(array_agg(c)) f FROM now_cells GROUP BY 1) x),
        'by_owner', (SELECT coalesce(jsonb_agg(jsonb_build_object('owner', owner) || f ORDER BY owner NULLS LAST), '[]')
                     FROM (SELECT (c).owner, mf_health_figures(array_agg(c)) f FROM now_cells GROUP BY 1) x),
        'trend', (SELECT jsonb_agg(jsonb_build_object('day', day) || f ORDER BY day)
                  FROM (SELECT day, f FROM history UNION ALL SELECT mf_utc_today(), f FROM today) t))
$$;

/*
 * mf-analytics: store today's cells of up to p_limit tenants whose snapshot
 * of today is missing or older than p_every_secs; returns how many. A tenant
 * is claimed with an advisory lock (skipped when another replica holds it)
 * and by an upsert of its snapshot row whose condition is re-checked under
 * the row lock, so replicas never take the same tenant's snapshot twice.
 * Snapshots older than 90 days are dropped.
 */
CREATE FUNCTION mf_health_snapshot(p_every_secs integer, p_limit integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t uuid;
    n integer := 0;
    v_today date := mf_utc_today();
BEGIN
    -- the stalest first (never taken today before any), so no tenant waits behind the others
    FOR t IN SELECT x.id FROM tenants x
             LEFT JOIN catalog_health_snapshots s ON s.tenant_id = x.id AND s.day = v_today
             WHERE x.status = 'active'
               AND (s.taken_at IS NULL OR s.taken_at <= now() - make_interval(secs => p_every_secs))
             ORDER BY s.taken_at NULLS FIRST, x.id LIMIT p_limit LOOP
        -- a tenant another replica is taking now is left to it
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(hashtext('mf_health_snapshot'), hashtext(t::text));
        INSERT INTO catalog_health_snapshots AS s (tenant_id, day) VALUES (t, v_today)
        ON CONFLICT (tenant_id, day) DO UPDATE SET taken_at = now()
        WHERE s.taken_at <= now() - make_interval(secs => p_every_secs);
        CONTINUE WHEN NOT FOUND;
        DELETE FROM catalog_health_cells WHERE tenant_id = t AND (day = v_today OR day < v_today - 90);
        DELETE FROM catalog_health_snapshots WHERE tenant_id = t AND day < v_today - 90;
        INSERT INTO catalog_health_cells SELECT * FROM mf_health_cells(t);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION mf_health_snapshot(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_health_snapshot(integer, integer) TO mf_app;
