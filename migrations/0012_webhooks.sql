-- 0012_webhooks: webhook notifications. A tenant admin registers webhooks
-- (services/api/src/webhooks.c); catalog_events is the outbox that
-- mf-analytics (services/analytics/src/webhooks.c) fans out into one delivery
-- per matching webhook and delivers with retries.
--
-- Events. The dataset_versions trigger of 0003 now writes
-- schema.breaking_change (was schema.breaking) and schema.changed for every
-- schema version after the first; a quality result with a failing assertion
-- writes quality.failed. Freshness (dataset.stale, dataset.fresh_again) and
-- quotas (quota.warning) insert their own rows.
--
-- Secrets. The signing secret lives in webhook_secrets, which the service
-- role may insert into but never read: the API cannot return it after the
-- create answer, and the audit trigger on webhooks never sees it. The worker
-- reads it through mf_webhook_claim.
--
-- Delivery. mf-analytics connects as mf_app and serves every tenant, so its
-- three steps are narrow SECURITY DEFINER functions:
--   mf_webhook_fanout   catalog events not yet fanned out -> deliveries
--   mf_webhook_claim    due deliveries, locked FOR UPDATE SKIP LOCKED, get
--                       their next attempt number and a lease (next_attempt_at
--                       pushed past the request timeout) in one statement, so
--                       two replicas never hold the same delivery; a replica
--                       that dies mid-request leaves it to be retried once
--                       the lease ends
--   mf_webhook_record   the attempt's outcome: delivered, retry later (the
--                       delay comes from the worker, with jitter), or dead
--                       after the last attempt; each attempt is logged

CREATE TABLE webhooks (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url         text NOT NULL,
    events      text[] NOT NULL CHECK (cardinality(events) > 0),
    format      text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT ''
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at, id);

CREATE TABLE webhook_secrets (
    webhook_id uuid PRIMARY KEY REFERENCES webhooks(id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret     text NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    webhook_id       uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         bigint NOT NULL REFERENCES catalog_events(id) ON DELETE CASCADE,
    kind             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'refused')),
    status_code integer,
    error       text,
    duration_ms integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- Events already in the outbox predate every webhook: mark them fanned out.
ALTER TABLE catalog_events ADD COLUMN fanned_out boolean NOT NULL DEFAULT true;
ALTER TABLE catalog_events ALTER COLUMN fanned_out SET DEFAULT false;
CREATE INDEX catalog_events_fanout ON catalog_events (id) WHERE NOT fanned_out;

SELECT mf_enable_tenant_isolation(ARRAY['webhooks', 'webhook_secrets', 'webhook_deliveries', 'webhook_attempts']);
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON webhooks FOR EACH ROW EXECUTE FUNCTION mf_audit_row('webhook');

GRANT SELECT, INSERT, DELETE ON webhooks TO mf_app;
GRANT INSERT ON webhook_secrets TO mf_app;
GRANT SELECT ON webhook_deliveries, webhook_attempts TO mf_app;

-- ---------- events ----------

-- Every schema version after the first is schema.changed; a breaking one is also schema.breaking_change.
CREATE OR REPLACE FUNCTION mf_version_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev jsonb;
    v_detail jsonb;
BEGIN
    IF NEW.version <= 1 THEN
        RETURN NULL;
    END IF;
    SELECT fields INTO prev FROM dataset_versions WHERE dataset_id = NEW.dataset_id AND version = NEW.version - 1;
    v_detail := jsonb_build_object('from', NEW.version - 1, 'to', NEW.version) || mf_schema_diff(prev, NEW.fields);
    INSERT INTO catalog_events (tenant_id, kind, dataset_id, detail)
    VALUES (NEW.tenant_id, 'schema.changed', NEW.dataset_id, v_detail);
    IF NEW.breaking THEN
        INSERT INTO catalog_events (tenant_id, kind, dataset_id, detail)
        VALUES (NEW.tenant_id, 'schema.breaking_change', NEW.dataset_id, v_detail);
    END IF;
    RETURN NULL;
END
$$;

-- A quality result with at least one failing assertion is quality.failed.
CREATE FUNCTION mf_quality_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE v_failed jsonb;
BEGIN
    IF jsonb_typeof(NEW.assertions) <> 'array' THEN
        RETURN NULL;
    END IF;
    SELECT jsonb_agg(a) INTO v_failed FROM jsonb_array_elements(NEW.assertions) a
    WHERE a->'success' = 'false'::jsonb;
    IF v_failed IS NOT NULL THEN
        INSERT INTO catalog_events (tenant_id, kind, dataset_id, detail)
        VALUES (NEW.tenant_id, 'quality.failed', NEW.dataset_id,
                jsonb_build_object('run_id', NEW.run_id, 'failed', v_failed,
                                   'assertions', jsonb_array_length(NEW.assertions)));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER catalog_event AFTER INSERT ON dataset_quality FOR EACH ROW EXECUTE FUNCTION mf_quality_event();

-- ---------- the API's side (Row Level Security, the caller's tenant) ----------

CREATE FUNCTION mf_webhook_doc(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', w.id, 'url', w.url, 'events', to_jsonb(w.events), 'format', w.format,
                              'description', w.description, 'created_at', mf_ts(w.created_at),
                              'created_by', w.created_by)
$$;

-- A tenant-wide caller: webhooks see every dataset, so a scoped credential may not manage them.
CREATE FUNCTION mf_webhook_require_unscoped() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT mf_access_unscoped() THEN
        PERFORM mf_raise('403', 'webhooks belong to the whole tenant: a scoped credential may not manage them');
    END IF;
END
$$;

-- A new webhook (the URL and events were validated by the service); its document.
CREATE FUNCTION mf_webhook_create(p_url text, p_events text[], p_secret text, p_format text, p_description text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE w webhooks;
BEGIN
    PERFORM mf_webhook_require_unscoped();
    INSERT INTO webhooks (tenant_id, url, events, format, description, created_by)
    VALUES (mf_current_tenant(), p_url, p_events, p_format, p_description,
            coalesce(current_setting('mf.actor', true), ''))
    RETURNING * INTO w;
    INSERT INTO webhook_secrets (webhook_id, tenant_id, secret) VALUES (w.id, w.tenant_id, p_secret);
    RETURN mf_webhook_doc(w);
END
$$;

CREATE FUNCTION mf_webhook_list(p_limit integer, p_after jsonb)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT x.w, row_number() OVER (ORDER BY (x.w).created_at, (x.w).id) AS n
        FROM (SELECT w FROM webhooks w, mf_cursor_ts_id(p_after) c
              WHERE w.tenant_id = mf_current_tenant() AND mf_access_unscoped()
                AND (p_after IS NULL OR (w.created_at, w.id) > (c.ts, c.id))
              ORDER BY w.created_at, w.id LIMIT p_limit + 1) x
    )
    SELECT coalesce(jsonb_agg(mf_webhook_doc(w) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN
               (jsonb_agg(jsonb_build_array((w).created_at::text, (w).id::text) ORDER BY n) -> (p_limit - 1))::text END
    FROM page
$$;

CREATE FUNCTION mf_webhook_delivery_doc(d webhook_deliveries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', d.id, 'event', d.kind, 'event_id', d.event_id, 'status', d.status, 'attempts', d.attempts,
        'next_attempt_at', CASE WHEN d.status = 'pending' THEN mf_ts(d.next_attempt_at) END,
        'last_status_code', d.last_status_code, 'last_error', d.last_error,
        'created_at', mf_ts(d.created_at), 'finished_at', mf_ts(d.finished_at),
        'attempt_log', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'attempt', a.attempt, 'at', mf_ts(a.at), 'outcome', a.outcome,
                                'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms)
                                ORDER BY a.attempt), '[]')
                        FROM webhook_attempts a WHERE a.delivery_id = d.id))
$$;

-- The delivery log of one webhook, newest first, optionally of one status (404: no such webhook).
CREATE FUNCTION mf_webhook_deliveries(p_limit integer, p_after jsonb, p_webhook uuid, p_status text)
RETURNS TABLE (items text, next_key text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM mf_webhook_require_unscoped();
    IF NOT EXISTS (SELECT 1 FROM webhooks WHERE tenant_id = mf_current_tenant() AND id = p_webhook) THEN
        PERFORM mf_raise('404', 'webhook not found');
    END IF;
    RETURN QUERY
    WITH page AS (
        SELECT x.d, row_number() OVER (ORDER BY (x.d).created_at DESC, (x.d).id DESC) AS n
        FROM (SELECT d FROM webhook_deliveries d, mf_cursor_ts_id(p_after) c
              WHERE d.tenant_id = mf_current_tenant() AND d.webhook_id = p_webhook
                AND (p_status IS NULL OR d.status = p_status)
                AND (p_after IS NULL OR (d.created_at, d.id) < (c.ts, c.id))
              ORDER BY d.created_at DESC, d.id DESC LIMIT p_limit + 1) x
    )
    SELECT coalesce(jsonb_agg(mf_webhook_delivery_doc(d) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN
               (jsonb_agg(jsonb_build_array((d).created_at::text, (d).id::text) ORDER BY n) -> (p_limit - 1))::text END
    FROM page;
END
$$;

-- ---------- the worker's side (every tenant; privileged, narrow) ----------

-- Fan up to p_limit outbox events out to the webhooks of their tenant that
-- subscribe to their kind and existed when they happened. Returns the
-- number of deliveries created.
CREATE FUNCTION mf_webhook_fanout(p_limit integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
    WITH ev AS (
        SELECT id, tenant_id, kind, at FROM catalog_events WHERE NOT fanned_out
        ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), marked AS (
        UPDATE catalog_events e SET fanned_out = true FROM ev WHERE e.id = ev.id
    )
    INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, kind)
    SELECT ev.tenant_id, w.id, ev.id, ev.kind
    FROM ev JOIN webhooks w ON w.tenant_id = ev.tenant_id AND ev.kind = ANY (w.events) AND w.created_at <= ev.at
    ON CONFLICT (webhook_id, event_id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Claim up to p_limit due deliveries for one attempt each, leased for
-- p_lease_ms. Returns what the request needs: the attempt number, the event
-- kind, the destination, the secret, the format and the JSON body.
CREATE FUNCTION mf_webhook_claim(p_limit integer, p_lease_ms integer)
RETURNS TABLE (delivery_id uuid, attempt integer, kind text, url text, secret text, format text, body text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
                                        next_attempt_at = now() + make_interval(secs => p_lease_ms / 1000.0)
        FROM due WHERE d.id = due.id
        RETURNING d.*
    )
    SELECT c.id, c.attempts, c.kind, w.url, s.secret, w.format,
           jsonb_build_object(
               'id', c.id, 'event', c.kind, 'event_id', e.id, 'tenant', jsonb_build_object('id', t.id, 'name', t.name),
               'occurred_at', mf_ts(e.at),
               'dataset', CASE WHEN ds.id IS NOT NULL THEN
                              jsonb_build_object('id', ds.id, 'namespace', ds.namespace, 'name', ds.name) END,
               'detail', e.detail)::text
    FROM claimed c
    JOIN webhooks w ON w.id = c.webhook_id
    JOIN webhook_secrets s ON s.webhook_id = w.id
    JOIN catalog_events e ON e.id = c.event_id
    JOIN tenants t ON t.id = c.tenant_id
    LEFT JOIN datasets ds ON ds.id = e.dataset_id;
END
$$;

-- Record attempt p_attempt of a delivery: outcome delivered, failed or
-- refused (the destination was not allowed). A failed or refused attempt
-- is retried after p_retry_ms unless it was attempt p_max_attempts (then
-- dead). A stale report (the lease ended and another attempt began) only
-- logs. Returns the delivery's status.
CREATE FUNCTION mf_webhook_record(p_delivery uuid, p_attempt integer, p_outcome text, p_status_code integer,
                                  p_error text, p_duration_ms integer, p_max_attempts integer, p_retry_ms integer)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE v_status text;
BEGIN
    INSERT INTO webhook_attempts (delivery_id, attempt, tenant_id, outcome, status_code, error, duration_ms)
    SELECT d.id, p_attempt, d.tenant_id, p_outcome, p_status_code, left(p_error, 500), p_duration_ms
    FROM webhook_deliveries d WHERE d.id = p_delivery
    ON CONFLICT (delivery_id, attempt) DO NOTHING;
    UPDATE webhook_deliveries d SET
        status = CASE WHEN p_outcome = 'delivered' THEN 'delivered'
                      WHEN p_attempt >= p_max_attempts THEN 'dead' ELSE 'pending' END,
        next_attempt_at = now() + make_interval(secs => p_retry_ms / 1000.0),
        finished_at = CASE WHEN p_outcome = 'delivered' OR p_attempt >= p_max_attempts THEN now() END,
        last_status_code = p_status_code, last_error = left(p_error, 500)
    WHERE d.id = p_delivery AND d.attempts = p_attempt AND d.status = 'pending'
    RETURNING d.status INTO v_status;
    RETURN v_status;
END
$$;

REVOKE ALL ON FUNCTION mf_webhook_fanout(integer), mf_webhook_claim(integer, integer),
    mf_webhook_record(uuid, integer, text, integer, text, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_webhook_fanout(integer), mf_webhook_claim(integer, integer),
    mf_webhook_record(uuid, integer, text, integer, text, integer, integer, integer) TO mf_app;
