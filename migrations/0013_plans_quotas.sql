-- 0013_plans_quotas: plan prices and rate limits, per-tenant quota overrides,
-- monthly usage, quota enforcement shared by every write path, invoices.
--
-- Limits: a tenant's effective limit is its override (tenants.quotas, a JSON
-- object written only by the platform admin) or else its plan's. Datasets and
-- seats are enforced here, by triggers, so the API, the ingest worker and any
-- later writer refuse the same way (SQLSTATE MFQ03 -> 403 quota_exceeded).
-- Requests per second and API calls per month are enforced by the services
-- in Redis (libshared quota.c); emit events per month by mf-ingest's enqueue
-- script. Monthly counters live in Redis on the hot path and mf-analytics
-- folds them into usage_monthly (mf_meter_fold), which invoices read.
--
-- Money is integer minor units of the plan's currency. API calls and emit
-- events are priced per 1,000 above the included amount; datasets and seats
-- per unit above the included amount (peak in the month).

ALTER TABLE plans
    ADD COLUMN max_key_rps             integer NOT NULL DEFAULT 20 CHECK (max_key_rps > 0),
    ADD COLUMN currency                text    NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN price_base              bigint  NOT NULL DEFAULT 0 CHECK (price_base >= 0),
    ADD COLUMN included_datasets       bigint  NOT NULL DEFAULT 0 CHECK (included_datasets >= 0),
    ADD COLUMN price_per_dataset       bigint  NOT NULL DEFAULT 0 CHECK (price_per_dataset >= 0),
    ADD COLUMN included_seats          bigint  NOT NULL DEFAULT 0 CHECK (included_seats >= 0),
    ADD COLUMN price_per_seat          bigint  NOT NULL DEFAULT 0 CHECK (price_per_seat >= 0),
    ADD COLUMN included_api_calls      bigint  NOT NULL DEFAULT 0 CHECK (included_api_calls >= 0),
    ADD COLUMN price_per_1k_api_calls  bigint  NOT NULL DEFAULT 0 CHECK (price_per_1k_api_calls >= 0),
    ADD COLUMN included_emit_events    bigint  NOT NULL DEFAULT 0 CHECK (included_emit_events >= 0),
    ADD COLUMN price_per_1k_emit_events bigint NOT NULL DEFAULT 0 CHECK (price_per_1k_emit_events >= 0),
    ADD COLUMN updated_at              timestamptz NOT NULL DEFAULT now();

-- free: everything included, nothing billed; team and enterprise: a base fee,
-- an included amount, overage up to the hard limit (max_*).
UPDATE plans SET max_key_rps = 20, price_base = 0, included_datasets = max_datasets,
                 included_seats = max_seats, included_api_calls = max_api_calls,
                 included_emit_events = max_emit_events
WHERE name = 'free';
UPDATE plans SET max_key_rps = 100, price_base = 49900,
                 included_datasets = 10000, price_per_dataset = 5,
                 included_seats = 20, price_per_seat = 2500,
                 included_api_calls = 5000000, price_per_1k_api_calls = 10,
                 included_emit_events = 5000000, price_per_1k_emit_events = 5
WHERE name = 'team';
UPDATE plans SET max_key_rps = 1000, price_base = 499900,
                 included_datasets = 1000000, price_per_dataset = 2,
                 included_seats = 200, price_per_seat = 2000,
                 included_api_calls = 200000000, price_per_1k_api_calls = 5,
                 included_emit_events = 200000000, price_per_1k_emit_events = 2
WHERE name = 'enterprise';

-- Per-tenant overrides: {"max_datasets": 10, "requests_per_second": 5, ...} (keys: mf_quota_keys()).
ALTER TABLE tenants ADD COLUMN quotas jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(quotas) = 'object');

-- The override keys and the plan column each one replaces.
CREATE FUNCTION mf_quota_keys() RETURNS TABLE (quota text, plan_column text)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('max_datasets', 'max_datasets'), ('max_seats', 'max_seats'),
           ('api_calls_per_month', 'max_api_calls'), ('emit_events_per_month', 'max_emit_events'),
           ('requests_per_second', 'max_rps'), ('key_requests_per_second', 'max_key_rps'),
           ('audit_retention_days', 'audit_retention_days')
$$;

-- What a plan allows, as the quota keys name it (the shape GET /api/v1/billing shows).
CREATE FUNCTION mf_plan_limits(p plans) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('max_datasets', p.max_datasets, 'max_seats', p.max_seats,
                              'api_calls_per_month', p.max_api_calls, 'emit_events_per_month', p.max_emit_events,
                              'requests_per_second', p.max_rps, 'key_requests_per_second', p.max_key_rps,
                              'audit_retention_days', p.audit_retention_days)
$$;

-- A tenant's effective limits: its overrides over its plan's.
CREATE FUNCTION mf_tenant_limits_doc(p_tenant uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT mf_plan_limits(p) || t.quotas FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.id = p_tenant
$$;

-- The limits the services enforce per request (quota.c caches them briefly).
CREATE FUNCTION mf_tenant_limits(p_tenant uuid)
RETURNS TABLE (requests_per_second bigint, key_requests_per_second bigint, api_calls_per_month bigint,
               emit_events_per_month bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT (l->>'requests_per_second')::bigint, (l->>'key_requests_per_second')::bigint,
           (l->>'api_calls_per_month')::bigint, (l->>'emit_events_per_month')::bigint
    FROM mf_tenant_limits_doc(p_tenant) l WHERE l IS NOT NULL
$$;

-- The plan document of GET /api/v1/admin/plans.
CREATE FUNCTION mf_plan_doc(p plans) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'name', p.name, 'currency', p.currency, 'limits', mf_plan_limits(p),
        'prices', jsonb_build_object('base', p.price_base,
                                     'per_dataset', p.price_per_dataset, 'per_seat', p.price_per_seat,
                                     'per_1k_api_calls', p.price_per_1k_api_calls,
                                     'per_1k_emit_events', p.price_per_1k_emit_events),
        'included', jsonb_build_object('datasets', p.included_datasets, 'seats', p.included_seats,
                                       'api_calls', p.included_api_calls, 'emit_events', p.included_emit_events),
        'updated_at', mf_ts(p.updated_at))
$$;

-- The tenant document gains its overrides.
CREATE OR REPLACE FUNCTION mf_tenant_doc(t tenants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'name', t.name, 'plan', t.plan, 'status', t.status, 'quotas', t.quotas,
                              'purge_after', mf_ts(t.purge_after), 'created_at', mf_ts(t.created_at))
$$;

-- ---------- monthly usage ----------

-- One row per tenant, month and metric: api_calls and emit_events are the
-- month's totals (folded from Redis); datasets and seats the month's peak.
CREATE TABLE usage_monthly (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    month      date NOT NULL CHECK (extract(day FROM month) = 1),
    metric     text NOT NULL CHECK (metric IN ('api_calls', 'emit_events', 'datasets', 'seats')),
    quantity   bigint NOT NULL CHECK (quantity >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, month, metric)
);

-- The quota.warning already raised per tenant, month and metric (at most one each).
CREATE TABLE quota_warnings (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    month     date NOT NULL,
    metric    text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, month, metric)
);
SELECT mf_enable_tenant_isolation(ARRAY['usage_monthly', 'quota_warnings']);
GRANT SELECT ON usage_monthly, quota_warnings TO mf_app;

-- ---------- enforcement: datasets and seats ----------

CREATE FUNCTION mf_quota_refuse(p_quota text, p_limit bigint, p_what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'MFQ03',
        MESSAGE = format('quota exceeded: %s (the limit is %s %s)', p_quota, p_limit, p_what);
END
$$;

-- After each statement that inserted datasets: every tenant concerned must stay
-- within max_datasets. The per-tenant advisory lock makes concurrent creators
-- count one after the other (each sees the others' committed rows); one count
-- per statement keeps bulk loads (COPY) linear.
CREATE FUNCTION mf_datasets_within_quota() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    tid uuid;
    lim bigint;
    n bigint;
BEGIN
    FOR tid IN SELECT DISTINCT tenant_id FROM new_datasets LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('mf:quota:datasets:' || tid, 0));
        lim := (mf_tenant_limits_doc(tid)->>'max_datasets')::bigint;
        SELECT count(*) INTO n FROM datasets WHERE tenant_id = tid;
        IF n > lim THEN
            PERFORM mf_quota_refuse('max_datasets', lim, 'datasets');
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER datasets_quota AFTER INSERT ON datasets REFERENCING NEW TABLE AS new_datasets
    FOR EACH STATEMENT EXECUTE FUNCTION mf_datasets_within_quota();

-- Seats taken: members plus pending, unexpired invitations.
CREATE FUNCTION mf_seats_used(p_tenant uuid) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT (SELECT count(*) FROM memberships m WHERE m.tenant_id = p_tenant)
         + (SELECT count(*) FROM invitations i WHERE i.tenant_id = p_tenant AND i.accepted_at IS NULL
              AND i.expires_at > now()
              AND NOT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                              WHERE m.tenant_id = p_tenant AND u.email = i.email))
$$;

-- A new invitation or membership must leave the tenant within max_seats (an
-- invitation holds its seat until it expires; accepting it takes no new one).
CREATE FUNCTION mf_seats_within_quota() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE lim bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('mf:quota:seats:' || NEW.tenant_id, 0));
    lim := (mf_tenant_limits_doc(NEW.tenant_id)->>'max_seats')::bigint;
    IF mf_seats_used(NEW.tenant_id) > lim THEN
        PERFORM mf_quota_refuse('max_seats', lim, 'seats');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER invitations_quota AFTER INSERT ON invitations
    FOR EACH ROW EXECUTE FUNCTION mf_seats_within_quota();
CREATE TRIGGER memberships_quota AFTER INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION mf_seats_within_quota();

-- ---------- metering ----------

-- Fold one Redis total (metric api_calls or emit_events of p_tenant in
-- p_month) into usage_monthly, and raise a quota.warning (catalog_events,
-- once per tenant, month and limit) when it reaches 80% of its limit. Totals
-- only grow (GREATEST), so replicas folding the same counter, or folding it
-- twice, agree.
CREATE FUNCTION mf_meter_fold(p_tenant uuid, p_month date, p_metric text, p_quantity bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    quota text := CASE p_metric WHEN 'api_calls' THEN 'api_calls_per_month'
                                WHEN 'emit_events' THEN 'emit_events_per_month' END;
    lim bigint := (mf_tenant_limits_doc(p_tenant)->>quota)::bigint;
    total bigint;
BEGIN
    IF quota IS NULL THEN
        PERFORM mf_raise('400', format('unknown metric "%s"', p_metric));
    END IF;
    IF lim IS NULL THEN
        RETURN; -- purged meanwhile
    END IF;
    INSERT INTO usage_monthly AS u (tenant_id, month, metric, quantity)
    VALUES (p_tenant, p_month, p_metric, p_quantity)
    ON CONFLICT (tenant_id, month, metric) DO UPDATE
        SET quantity = GREATEST(u.quantity, EXCLUDED.quantity), updated_at = now()
        WHERE u.quantity < EXCLUDED.quantity;
    SELECT quantity INTO total FROM usage_monthly WHERE tenant_id = p_tenant AND month = p_month AND metric = p_metric;
    IF total * 5 >= lim * 4 THEN
        INSERT INTO quota_warnings (tenant_id, month, metric) VALUES (p_tenant, p_month, p_metric)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            INSERT INTO catalog_events (tenant_id, kind, detail)
            VALUES (p_tenant, 'quota.warning',
                    jsonb_build_object('quota', quota, 'limit', lim, 'used', total,
                                       'month', to_char(p_month, 'YYYY-MM'), 'percent', total * 100 / greatest(lim, 1)));
        END IF;
    END IF;
END
$$;

-- Peak datasets and seats of every live tenant this month (tenants without
-- Redis counters too), in one statement.
CREATE FUNCTION mf_meter_fold_counts() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO usage_monthly AS u (tenant_id, month, metric, quantity)
    SELECT t.id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, x.metric, x.quantity
    FROM tenants t
    LEFT JOIN (SELECT tenant_id, count(*) AS n FROM datasets GROUP BY tenant_id) d ON d.tenant_id = t.id
    CROSS JOIN LATERAL (VALUES ('datasets', coalesce(d.n, 0)), ('seats', mf_seats_used(t.id))) x (metric, quantity)
    WHERE t.status <> 'deleting'
    ON CONFLICT (tenant_id, month, metric) DO UPDATE
        SET quantity = GREATEST(u.quantity, EXCLUDED.quantity), updated_at = now()
        WHERE u.quantity < EXCLUDED.quantity
$$;

-- ---------- invoices ----------

-- The invoice of p_tenant for p_month from its current plan and the month's
-- usage: one line for the base fee, one per metric above its included amount.
-- Live totals (p_api_calls, p_emit_events: Redis counters not folded yet; NULL
-- when unknown) and live counts for the current month count when higher.
-- All arithmetic in bigint minor units; NULL when the tenant does not exist.
CREATE FUNCTION mf_invoice(p_tenant uuid, p_month date, p_api_calls bigint DEFAULT NULL,
                           p_emit_events bigint DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t tenants;
    p plans;
    current_month boolean := p_month = date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    used jsonb;
    lines jsonb := '[]';
    line record;
BEGIN
    SELECT * INTO t FROM tenants WHERE id = p_tenant;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO p FROM plans WHERE name = t.plan;
    SELECT coalesce(jsonb_object_agg(metric, quantity), '{}') INTO used
    FROM usage_monthly WHERE tenant_id = p_tenant AND month = p_month;
    lines := lines || jsonb_build_array(jsonb_build_object(
        'description', format('%s plan, %s', p.name, to_char(p_month, 'YYYY-MM')),
        'quantity', 1, 'unit_price', p.price_base, 'amount', p.price_base));
    FOR line IN
        SELECT x.metric, x.label, x.per, x.unit_price, x.included,
               GREATEST(coalesce((used->>x.metric)::bigint, 0), coalesce(x.live, 0)) AS quantity
        FROM (VALUES (1, 'datasets', 'datasets', 1::bigint, p.price_per_dataset, p.included_datasets,
                      CASE WHEN current_month THEN (SELECT count(*) FROM datasets d WHERE d.tenant_id = p_tenant) END),
                     (2, 'seats', 'seats', 1, p.price_per_seat, p.included_seats,
                      CASE WHEN current_month THEN mf_seats_used(p_tenant) END),
                     (3, 'api_calls', 'API calls', 1000, p.price_per_1k_api_calls, p.included_api_calls, p_api_calls),
                     (4, 'emit_events', 'emit events', 1000, p.price_per_1k_emit_events, p.included_emit_events,
                      p_emit_events)) x (ord, metric, label, per, unit_price, included, live)
        ORDER BY x.ord
    LOOP
        CONTINUE WHEN line.quantity <= line.included;
        lines := lines || jsonb_build_array(jsonb_build_object(
            'description', CASE WHEN line.per = 1
                                THEN format('%s above the %s included', line.label, line.included)
                                ELSE format('%s above the %s included, per %s', line.label, line.included, line.per) END,
            'quantity', (line.quantity - line.included + line.per - 1) / line.per,
            'unit_price', line.unit_price,
            'amount', (line.quantity - line.included + line.per - 1) / line.per * line.unit_price));
    END LOOP;
    RETURN jsonb_build_object('tenant', t.id, 'tenant_name', t.name, 'plan', p.name, 'month', to_char(p_month, 'YYYY-MM'),
                              'currency', p.currency, 'lines', lines,
                              'total', (SELECT sum((l->>'amount')::bigint) FROM jsonb_array_elements(lines) l));
END
$$;

-- Every tenant's invoice for p_month, by tenant name, one page (mf_list_* shape).
CREATE FUNCTION mf_admin_list_invoices(p_limit integer, p_after jsonb, p_month date)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH page AS (
        SELECT t.id, t.name FROM tenants t
        WHERE (p_after IS NULL OR t.name > p_after->>0) AND t.created_at < p_month + interval '1 month'
        ORDER BY t.name LIMIT p_limit + 1
    ), numbered AS (SELECT id, name, row_number() OVER (ORDER BY name) AS n FROM page)
    SELECT coalesce(jsonb_agg(mf_invoice(id, p_month) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN jsonb_build_array(max(name) FILTER (WHERE n <= p_limit))::text END
    FROM numbered
$$;

-- GET /api/v1/billing: the plan, this month's usage against each limit, the invoice so far.
CREATE FUNCTION mf_billing_overview(p_tenant uuid, p_api_calls bigint, p_emit_events bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    lim jsonb := mf_tenant_limits_doc(p_tenant);
    used jsonb;
BEGIN
    SELECT coalesce(jsonb_object_agg(u.metric, u.quantity), '{}') INTO used
    FROM usage_monthly u WHERE u.tenant_id = p_tenant AND u.month = v_month;
    RETURN jsonb_build_object(
        'plan', (SELECT plan FROM tenants WHERE id = p_tenant),
        'month', to_char(v_month, 'YYYY-MM'),
        'limits', lim,
        'usage', jsonb_build_object(
            'datasets', jsonb_build_object('used', (SELECT count(*) FROM datasets WHERE tenant_id = p_tenant),
                                           'limit', (lim->>'max_datasets')::bigint),
            'seats', jsonb_build_object('used', mf_seats_used(p_tenant), 'limit', (lim->>'max_seats')::bigint),
            'api_calls', jsonb_build_object('used', GREATEST(coalesce((used->>'api_calls')::bigint, 0),
                                                             coalesce(p_api_calls, 0)),
                                            'limit', (lim->>'api_calls_per_month')::bigint),
            'emit_events', jsonb_build_object('used', GREATEST(coalesce((used->>'emit_events')::bigint, 0),
                                                               coalesce(p_emit_events, 0)),
                                              'limit', (lim->>'emit_events_per_month')::bigint)),
        'invoice', mf_invoice(p_tenant, v_month, p_api_calls, p_emit_events));
END
$$;

-- ---------- the platform admin's changes ----------

-- Change a tenant's quota overrides: p_quotas is merged into them, a null
-- value drops that override. Keys must be mf_quota_keys() and values
-- integers (the service checks ranges). Audited as tenant.quotas.
CREATE FUNCTION mf_admin_set_tenant_quotas(p_id uuid, p_quotas jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t tenants := mf_admin_tenant_for_update(p_id);
    old_t tenants := t;
    bad text;
BEGIN
    SELECT k INTO bad FROM jsonb_object_keys(p_quotas) k WHERE k NOT IN (SELECT quota FROM mf_quota_keys()) LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM mf_raise('400', format('quotas.%s is not a known quota (known: %s)', bad,
                                       (SELECT string_agg(quota, ', ') FROM mf_quota_keys())));
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_each(p_quotas) x WHERE jsonb_typeof(x.value) NOT IN ('number', 'null')) THEN
        PERFORM mf_raise('400', 'quota values must be integers (or null to drop an override)');
    END IF;
    IF t.quotas IS DISTINCT FROM jsonb_strip_nulls(t.quotas || p_quotas) THEN
        UPDATE tenants SET quotas = jsonb_strip_nulls(quotas || p_quotas) WHERE id = p_id RETURNING * INTO t;
        INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
        VALUES (t.id, coalesce(current_setting('mf.actor', true), ''), 'tenant.quotas', t.name,
                coalesce(current_setting('mf.request_id', true), ''),
                coalesce(current_setting('mf.client_addr', true), ''),
                jsonb_build_object('quotas', old_t.quotas), jsonb_build_object('quotas', t.quotas));
    END IF;
    RETURN mf_tenant_doc(t);
END
$$;

-- PUT /api/v1/admin/tenants/{id}: name and plan (mf_admin_update_tenant), then
-- quota overrides, in one transaction; NULL leaves a part unchanged.
CREATE FUNCTION mf_admin_update_tenant_limits(p_id uuid, p_name text, p_plan text, p_quotas jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE doc jsonb;
BEGIN
    IF p_name IS NOT NULL OR p_plan IS NOT NULL OR p_quotas IS NULL THEN
        doc := mf_admin_update_tenant(p_id, p_name, p_plan);
    END IF;
    IF p_quotas IS NOT NULL THEN
        doc := mf_admin_set_tenant_quotas(p_id, p_quotas);
    END IF;
    RETURN doc;
END
$$;

-- Every plan, by name (a handful: no paging beyond one page of p_limit).
CREATE FUNCTION mf_admin_list_plans(p_limit integer, p_after jsonb)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH page AS (
        SELECT p FROM plans p WHERE p_after IS NULL OR p.name > p_after->>0 ORDER BY p.name LIMIT p_limit + 1
    ), numbered AS (SELECT p, row_number() OVER (ORDER BY (p).name) AS n FROM page)
    SELECT coalesce(jsonb_agg(mf_plan_doc(p) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN jsonb_build_array(max((p).name) FILTER (WHERE n <= p_limit))::text END
    FROM numbered
$$;

CREATE FUNCTION mf_admin_get_plan(p_name text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT mf_plan_doc(p) FROM plans p WHERE p.name = p_name
$$;

-- Create or change plan p_name from a plan document's parts: p_limits (quota
-- keys), p_prices (base, per_dataset, per_seat, per_1k_api_calls,
-- per_1k_emit_events), p_included (datasets, seats, api_calls, emit_events),
-- p_currency. A new plan needs every limit; a change merges into the plan's
-- values. The service validated names and types; the CHECKs guard the rest.
-- Audited (platform level) as plan.created / plan.updated.
CREATE FUNCTION mf_admin_put_plan(p_name text, p_currency text, p_limits jsonb, p_prices jsonb, p_included jsonb)
RETURNS TABLE (doc text, created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old_p plans;
    p plans;
    l jsonb;
    pr jsonb;
    inc jsonb;
BEGIN
    SELECT * INTO old_p FROM plans WHERE name = p_name FOR UPDATE;
    created := NOT FOUND;
    IF created AND (SELECT count(*) FROM mf_quota_keys() k WHERE p_limits ? k.quota) < 7 THEN
        PERFORM mf_raise('400', format('a new plan needs every limit: %s',
                                       (SELECT string_agg(quota, ', ') FROM mf_quota_keys())));
    END IF;
    IF created THEN
        l := p_limits;
        pr := jsonb_build_object('base', 0, 'per_dataset', 0, 'per_seat', 0, 'per_1k_api_calls', 0,
                                 'per_1k_emit_events', 0) || p_prices;
        inc := jsonb_build_object('datasets', l->'max_datasets', 'seats', l->'max_seats',
                                  'api_calls', l->'api_calls_per_month', 'emit_events', l->'emit_events_per_month')
               || p_included;
    ELSE
        l := mf_plan_limits(old_p) || p_limits;
        pr := (mf_plan_doc(old_p)->'prices') || p_prices;
        inc := (mf_plan_doc(old_p)->'included') || p_included;
    END IF;
    INSERT INTO plans AS x (name, max_datasets, max_seats, max_api_calls, max_emit_events, max_rps, max_key_rps,
                            audit_retention_days, currency, price_base, included_datasets, price_per_dataset,
                            included_seats, price_per_seat, included_api_calls, price_per_1k_api_calls,
                            included_emit_events, price_per_1k_emit_events, updated_at)
    VALUES (p_name, (l->>'max_datasets')::int, (l->>'max_seats')::int, (l->>'api_calls_per_month')::bigint,
            (l->>'emit_events_per_month')::bigint, (l->>'requests_per_second')::int,
            (l->>'key_requests_per_second')::int, (l->>'audit_retention_days')::int,
            coalesce(p_currency, old_p.currency, 'USD'), (pr->>'base')::bigint, (inc->>'datasets')::bigint,
            (pr->>'per_dataset')::bigint, (inc->>'seats')::bigint, (pr->>'per_seat')::bigint,
            (inc->>'api_calls')::bigint, (pr->>'per_1k_api_calls')::bigint, (inc->>'emit_events')::bigint,
            (pr->>'per_1k_emit_events')::bigint, now())
    ON CONFLICT (name) DO UPDATE SET
        max_datasets = EXCLUDED.max_datasets, max_seats = EXCLUDED.max_seats, max_api_calls = EXCLUDED.max_api_calls,
        max_emit_events = EXCLUDED.max_emit_events, max_rps = EXCLUDED.max_rps, max_key_rps = EXCLUDED.max_key_rps,
        audit_retention_days = EXCLUDED.audit_retention_days, currency = EXCLUDED.currency,
        price_base = EXCLUDED.price_base, included_datasets = EXCLUDED.included_datasets,
        price_per_dataset = EXCLUDED.price_per_dataset, included_seats = EXCLUDED.included_seats,
        price_per_seat = EXCLUDED.price_per_seat, included_api_calls = EXCLUDED.included_api_calls,
        price_per_1k_api_calls = EXCLUDED.price_per_1k_api_calls,
        included_emit_events = EXCLUDED.included_emit_events,
        price_per_1k_emit_events = EXCLUDED.price_per_1k_emit_events, updated_at = now()
    RETURNING * INTO p;
    INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
    VALUES (NULL, coalesce(current_setting('mf.actor', true), ''),
            CASE WHEN created THEN 'plan.created' ELSE 'plan.updated' END, p.name,
            coalesce(current_setting('mf.request_id', true), ''), coalesce(current_setting('mf.client_addr', true), ''),
            CASE WHEN created THEN NULL ELSE mf_plan_doc(old_p) END, mf_plan_doc(p));
    doc := mf_plan_doc(p)::text;
    RETURN NEXT;
END
$$;

-- mf_purge (0005) keeps audit rows for the tenant's effective retention: an
-- audit_retention_days override wins over the plan's. Only its last DELETE changes.
CREATE OR REPLACE FUNCTION mf_purge() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t tenants;
    tbl regclass;
    v_datasets bigint;
    v_done jsonb := '[]';
    v_failed jsonb := '[]';
    v_audit bigint;
BEGIN
    PERFORM set_config('mf.actor', coalesce(nullif(current_setting('mf.actor', true), ''), 'purge'), true);
    FOR t IN SELECT * FROM tenants WHERE status = 'deleting' AND purge_after <= now()
             ORDER BY purge_after, id FOR UPDATE SKIP LOCKED LOOP
        BEGIN
            PERFORM set_config('mf.purging', t.id::text, true);
            SELECT count(*) INTO v_datasets FROM datasets WHERE tenant_id = t.id;
            FOR tbl IN
                SELECT c.oid::regclass FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
                WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                                  WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid = 'tenants'::regclass
                                    AND k.confdeltype = 'c' AND k.conkey = ARRAY[a.attnum])
                ORDER BY c.relname LOOP
                EXECUTE format('DELETE FROM %s WHERE tenant_id = $1', tbl) USING t.id;
            END LOOP;
            DELETE FROM tenants WHERE id = t.id;
            PERFORM set_config('mf.purging', '', true);
            INSERT INTO audit_log (tenant_id, actor, action, target, before)
            VALUES (NULL, current_setting('mf.actor', true), 'tenant.purge', t.name, to_jsonb(t));
            v_done := v_done || jsonb_build_object('id', t.id, 'name', t.name, 'datasets', v_datasets,
                                                   'purge_after', mf_ts(t.purge_after));
        EXCEPTION WHEN OTHERS THEN
            v_failed := v_failed || jsonb_build_object('id', t.id, 'name', t.name, 'error', SQLERRM);
        END;
    END LOOP;
    PERFORM set_config('mf.purging', '', true);

    DELETE FROM audit_log a USING tenants x
    WHERE a.tenant_id = x.id
      AND a.at < now() - make_interval(days => (mf_tenant_limits_doc(x.id)->>'audit_retention_days')::int);
    GET DIAGNOSTICS v_audit = ROW_COUNT;

    RETURN jsonb_build_object('tenants_purged', jsonb_array_length(v_done), 'tenants', v_done,
                              'failed', v_failed, 'audit_rows_deleted', v_audit);
END
$$;

REVOKE ALL ON FUNCTION mf_tenant_limits_doc(uuid), mf_tenant_limits(uuid), mf_seats_used(uuid),
    mf_meter_fold(uuid, date, text, bigint), mf_meter_fold_counts(), mf_invoice(uuid, date, bigint, bigint),
    mf_admin_list_invoices(integer, jsonb, date), mf_billing_overview(uuid, bigint, bigint),
    mf_admin_set_tenant_quotas(uuid, jsonb), mf_admin_update_tenant_limits(uuid, text, text, jsonb),
    mf_admin_list_plans(integer, jsonb), mf_admin_get_plan(text),
    mf_admin_put_plan(text, text, jsonb, jsonb, jsonb), mf_datasets_within_quota(), mf_seats_within_quota()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_tenant_limits_doc(uuid), mf_tenant_limits(uuid), mf_seats_used(uuid),
    mf_meter_fold(uuid, date, text, bigint), mf_meter_fold_counts(), mf_invoice(uuid, date, bigint, bigint),
    mf_admin_list_invoices(integer, jsonb, date), mf_billing_overview(uuid, bigint, bigint),
    mf_admin_update_tenant_limits(uuid, text, text, jsonb),
    mf_admin_list_plans(integer, jsonb), mf_admin_get_plan(text),
    mf_admin_put_plan(text, text, jsonb, jsonb, jsonb)
    TO mf_app;
