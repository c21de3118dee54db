-- 0005_tenant_admin: the platform operator's tenant lifecycle and the purge.
--
-- A tenant is active, suspended (its keys and sessions are refused, its data
-- kept) or deleting (refused too, and purged once purge_after has passed;
-- reactivating it before then cancels the deletion). Every transition goes
-- through mf_admin_tenant_transition, which writes an audit row named after
-- it (tenant.suspend, tenant.reactivate, tenant.delete) into the tenant's own
-- log, so the tenant's admins see who did it. mf_purge, run by `mf-api purge`
-- (a CronJob) as the owner, erases tenants whose grace period is over and
-- audit rows older than their plan keeps them.

-- ---------- tenants: status 'deleting' and purge_after ----------

DO $$
DECLARE c text;
BEGIN
    -- the CHECK on status, whatever it is called
    FOR c IN SELECT k.conname FROM pg_constraint k
             WHERE k.conrelid = 'tenants'::regclass AND k.contype = 'c'
               AND k.conkey = ARRAY[(SELECT attnum FROM pg_attribute
                                     WHERE attrelid = 'tenants'::regclass AND attname = 'status')] LOOP
        EXECUTE format('ALTER TABLE tenants DROP CONSTRAINT %I', c);
    END LOOP;
END
$$;
ALTER TABLE tenants
    ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'deleting')),
    ADD COLUMN purge_after timestamptz,
    ADD CONSTRAINT tenants_purge_after_check CHECK ((status = 'deleting') = (purge_after IS NOT NULL));
CREATE INDEX tenants_purge_after ON tenants (purge_after) WHERE purge_after IS NOT NULL;

CREATE OR REPLACE FUNCTION mf_tenant_doc(t tenants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'name', t.name, 'plan', t.plan, 'status', t.status,
                              'purge_after', mf_ts(t.purge_after), 'created_at', mf_ts(t.created_at))
$$;

-- ---------- privileged path: the platform operator's changes ----------

-- The tenant p_id locked for update; 404 when there is none.
-- (Called only from the definer functions below, as the owner.)
CREATE FUNCTION mf_admin_tenant_for_update(p_id uuid) RETURNS tenants
LANGUAGE plpgsql AS $$
DECLARE t tenants;
BEGIN
    SELECT * INTO t FROM tenants WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', 'tenant not found');
    END IF;
    RETURN t;
END
$$;

-- Rename a tenant or change its plan (NULL: unchanged). 400 for an unknown
-- plan (naming the plans), 409 for a name another tenant has.
CREATE FUNCTION mf_admin_update_tenant(p_id uuid, p_name text, p_plan text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE t tenants := mf_admin_tenant_for_update(p_id);
BEGIN
    IF p_plan IS NOT NULL AND NOT EXISTS (SELECT 1 FROM plans WHERE name = p_plan) THEN
        PERFORM mf_raise('400', format('plan must be one of: %s',
                                       (SELECT string_agg(name, ', ' ORDER BY max_datasets, name) FROM plans)));
    END IF;
    IF p_name IS NOT NULL AND EXISTS (SELECT 1 FROM tenants WHERE name = p_name AND id <> p_id) THEN
        PERFORM mf_raise('409', format('a tenant named "%s" already exists', p_name));
    END IF;
    IF (t.name, t.plan) IS DISTINCT FROM (coalesce(p_name, t.name), coalesce(p_plan, t.plan)) THEN
        BEGIN
            UPDATE tenants SET name = coalesce(p_name, name), plan = coalesce(p_plan, plan)
            WHERE id = p_id RETURNING * INTO t;
        EXCEPTION WHEN unique_violation THEN
            -- a concurrent rename took the name between the check and the update
            PERFORM mf_raise('409', format('a tenant named "%s" already exists', p_name));
        END;
    END IF;
    RETURN mf_tenant_doc(t);
END
$$;

/*
 * Move a tenant through its lifecycle. p_action:
 *   'suspend'    active -> suspended; suspended stays (no change); deleting: 409
 *   'reactivate' suspended or deleting -> active (cancels the deletion); active stays
 *   'delete'     active or suspended -> deleting, purge after p_grace_days days;
 *                deleting stays (its purge_after is kept)
 * A change writes the audit row tenant.<action> in the tenant's own log, with
 * the request's actor, id and address (mf.* settings). Returns the tenant
 * document and the ids of its live keys as a JSON array (the service drops
 * them from its caches so the change applies at once); 404 when absent.
 */
CREATE FUNCTION mf_admin_tenant_transition(p_id uuid, p_action text, p_grace_days integer)
RETURNS TABLE (doc text, key_ids text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t tenants := mf_admin_tenant_for_update(p_id);
    old_t tenants := t;
    v_status text;
    v_purge timestamptz;
BEGIN
    CASE p_action
    WHEN 'suspend' THEN
        IF t.status = 'deleting' THEN
            PERFORM mf_raise('409', format('tenant "%s" is being deleted (purge after %s); reactivate it first',
                                           t.name, mf_ts(t.purge_after)));
        END IF;
        v_status := 'suspended';
    WHEN 'reactivate' THEN
        v_status := 'active';
    WHEN 'delete' THEN
        v_status := 'deleting';
        v_purge := CASE WHEN t.status = 'deleting' THEN t.purge_after
                        ELSE now() + make_interval(days => p_grace_days) END;
    ELSE
        PERFORM mf_raise('400', format('unknown tenant action "%s"', p_action));
    END CASE;
    IF t.status <> v_status THEN
        UPDATE tenants SET status = v_status, purge_after = v_purge WHERE id = p_id RETURNING * INTO t;
        INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
        VALUES (t.id, coalesce(current_setting('mf.actor', true), ''), 'tenant.' || p_action, t.name,
                coalesce(current_setting('mf.request_id', true), ''),
                coalesce(current_setting('mf.client_addr', true), ''), to_jsonb(old_t), to_jsonb(t));
    END IF;
    doc := mf_tenant_doc(t)::text;
    key_ids := (SELECT coalesce(jsonb_agg(k.id ORDER BY k.id), '[]')::text FROM api_keys k
                WHERE k.tenant_id = p_id AND k.revoked_at IS NULL);
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION mf_admin_tenant_for_update(uuid), mf_admin_update_tenant(uuid, text, text),
    mf_admin_tenant_transition(uuid, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_admin_update_tenant(uuid, text, text), mf_admin_tenant_transition(uuid, text, integer)
    TO mf_app;

-- ---------- lists ----------

-- The bigint a list cursor ($after, a JSON array) starts with; 400 when a
-- forged cursor holds anything else. Use it as a scalar subquery
-- ((SELECT mf_cursor_bigint($2))) so it runs once per query.
CREATE FUNCTION mf_cursor_bigint(p_after jsonb) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF jsonb_typeof(p_after) = 'array' AND jsonb_typeof(p_after->0) IN ('number', 'string')
       AND (p_after->>0) ~ '^[0-9]{1,18}$' THEN
        RETURN (p_after->>0)::bigint;
    END IF;
    PERFORM mf_raise('400', 'cursor is not valid; use next_cursor from a previous page');
    RETURN NULL;
END
$$;

-- ---------- purge ----------

-- While mf_purge erases a tenant (mf.purging = its id), the row triggers of
-- the cascade would log every deleted row of it: those rows are dropped here.
CREATE FUNCTION mf_audit_drop_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RETURN NULL;
END
$$;
CREATE TRIGGER skip_purged BEFORE INSERT ON audit_log FOR EACH ROW
    WHEN (NEW.tenant_id IS NOT NULL AND NEW.tenant_id::text = current_setting('mf.purging', true))
    EXECUTE FUNCTION mf_audit_drop_row();

/*
 * Erase every tenant whose purge_after has passed, each in its own
 * subtransaction (one that fails is reported and the others go on): first
 * the rows of tables that hold a tenant_id without a cascading foreign key to
 * tenants (the audit log, and any such table a later migration adds), then
 * the tenant row, whose ON DELETE CASCADE removes the rest. A platform-level
 * audit row tenant.purge records each. Then delete audit rows older than
 * their tenant's plan keeps them (plans.audit_retention_days); platform-level
 * rows (no tenant) are kept. Runs as the owner; returns
 * {"tenants_purged":N,"tenants":[{"id","name","datasets","purge_after"}],
 *  "failed":[{"id","name","error"}],"audit_rows_deleted":N}.
 */
CREATE FUNCTION mf_purge() RETURNS jsonb
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

    DELETE FROM audit_log a USING tenants x JOIN plans p ON p.name = x.plan
    WHERE a.tenant_id = x.id AND a.at < now() - make_interval(days => p.audit_retention_days);
    GET DIAGNOSTICS v_audit = ROW_COUNT;

    RETURN jsonb_build_object('tenants_purged', jsonb_array_length(v_done), 'tenants', v_done,
                              'failed', v_failed, 'audit_rows_deleted', v_audit);
END
$$;
REVOKE ALL ON FUNCTION mf_purge() FROM PUBLIC;
