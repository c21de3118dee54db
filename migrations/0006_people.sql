-- 0006_people: API keys of people and services, a tenant's members, their
-- domain and dataset grants, invitations.
--
-- Everything here runs as the caller (mf_app, under RLS, in the request's
-- tenant) and reads who is asking from the per-transaction settings the
-- service sets (mf.user_id: the signed-in user or a personal key's owner;
-- mf.scope: '' or 'domain:<uuid>' / 'dataset:<uuid>' for a scoped key) plus
-- the caller's role, which the service passes as a parameter. A "tenant
-- admin" is a caller whose role is admin with no scope.
--
-- Keys: a personal key (user_id set) acts for its user and never exceeds what
-- the user holds today (tenant role, or a grant on the key's scope); a service
-- key (no user) acts for the tenant and only a tenant admin creates, lists or
-- revokes those. A key is never created with more than its creator holds: a
-- higher role, a wider scope, or (for a person) a role above their tenant
-- role outside a scope where a grant gives it.
--
-- Members: removing one revokes their personal keys in the tenant (so being
-- invited again does not revive them); sessions and grants go with the
-- membership row. The tenant's last admin member is neither demoted nor
-- removed (409). Changes to members serialise per tenant on an advisory lock.

-- ---------- shared ----------

-- A list cursor [created_at text, id text] decoded; 400 when tampered with. NULLs for no cursor.
CREATE FUNCTION mf_cursor_ts_id(p jsonb, OUT ts timestamptz, OUT id uuid)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        ts := (p->>0)::timestamptz;
        id := (p->>1)::uuid;
    EXCEPTION WHEN others THEN
        ts := NULL;
    END;
    IF ts IS NULL OR id IS NULL THEN
        PERFORM mf_raise('400', 'cursor is not valid; use next_cursor from a previous page');
    END IF;
END
$$;

-- The caller's user ('' settings: none).
CREATE FUNCTION mf_current_user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('mf.user_id', true), '')::uuid
$$;

CREATE FUNCTION mf_current_scope() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('mf.scope', true), '')
$$;

-- A tenant admin: the admin role, not bound to a domain or dataset.
CREATE FUNCTION mf_is_tenant_admin(p_caller_role text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p_caller_role = 'admin' AND mf_current_scope() = ''
$$;


-- ---------- API keys ----------

-- {"domain": name} / {"dataset": {namespace, name}} / NULL.
CREATE FUNCTION mf_scope_doc(p_domain uuid, p_dataset uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_domain IS NOT NULL THEN
                    (SELECT jsonb_build_object('domain', d.name) FROM domains d WHERE d.id = p_domain)
                WHEN p_dataset IS NOT NULL THEN
                    (SELECT jsonb_build_object('dataset', mf_ref(s.namespace, s.name)) FROM datasets s
                     WHERE s.id = p_dataset) END
$$;

-- A key as the API shows it: never the secret or its hash.
CREATE FUNCTION mf_api_key_doc(k api_keys) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', k.id, 'name', k.name, 'role', k.role,
        'type', CASE WHEN k.user_id IS NULL THEN 'service' ELSE 'personal' END, 'user_id', k.user_id,
        'scope', mf_scope_doc(k.scope_domain_id, k.scope_dataset_id), 'prefix', k.prefix,
        'created_at', mf_ts(k.created_at), 'created_by', k.created_by, 'last_used_at', mf_ts(k.last_used_at),
        'expires_at', mf_ts(k.expires_at), 'revoked_at', mf_ts(k.revoked_at))
$$;

-- The domain named p_domain, or the dataset p_ns/p_dataset, of the current
-- tenant (at most one given); 400 naming it when there is none. `what` is
-- the field the name came from, for the message.
CREATE FUNCTION mf_resolve_scope(p_what text, p_domain text, p_ns text, p_dataset text,
                                 OUT domain_id uuid, OUT dataset_id uuid)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_domain IS NOT NULL THEN
        SELECT d.id INTO domain_id FROM domains d WHERE d.tenant_id = mf_current_tenant() AND d.name = p_domain;
        IF NOT FOUND THEN
            PERFORM mf_raise('400', format('%s.domain: there is no domain named "%s"', p_what, p_domain));
        END IF;
    ELSIF p_dataset IS NOT NULL THEN
        SELECT s.id INTO dataset_id FROM datasets s
        WHERE s.tenant_id = mf_current_tenant() AND s.namespace = coalesce(p_ns, 'default') AND s.name = p_dataset;
        IF NOT FOUND THEN
            PERFORM mf_raise('400', format('%s.dataset: there is no dataset %s/%s', p_what, coalesce(p_ns, 'default'),
                                           p_dataset));
        END IF;
    END IF;
END
$$;

-- How a scope reads in a message: 'domain "sales"', 'dataset default/orders'.
CREATE FUNCTION mf_scope_text(p_domain uuid, p_dataset uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_domain IS NOT NULL THEN (SELECT format('domain "%s"', d.name) FROM domains d WHERE d.id = p_domain)
                WHEN p_dataset IS NOT NULL THEN (SELECT format('dataset %s/%s', s.namespace, s.name) FROM datasets s
                                                 WHERE s.id = p_dataset)
                ELSE 'the whole tenant' END
$$;

/*
 * Create a key for the caller (see the top of this file for the rules).
 * p_type NULL: personal when the caller has a user, else service. p_domain or
 * p_ns/p_dataset: the scope (names). p_prefix/p_hash: the new key's prefix and
 * SHA-256 (the secret never reaches the database). p_caller_role: the
 * caller's effective role. 400 for bad values, 403 when the key would exceed
 * what the caller holds. Returns the key document.
 */
CREATE FUNCTION mf_api_key_create(p_name text, p_role text, p_type text, p_domain text, p_ns text, p_dataset text,
                                  p_expires timestamptz, p_prefix text, p_hash text, p_caller_role text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_user uuid := mf_current_user_id();
    v_scope text := mf_current_scope();
    v_admin boolean := mf_is_tenant_admin(p_caller_role);
    v_type text := coalesce(p_type, CASE WHEN mf_current_user_id() IS NULL THEN 'service' ELSE 'personal' END);
    v_domain uuid;
    v_dataset uuid;
    v_scope_kind text := split_part(v_scope, ':', 1);
    v_scope_id uuid := nullif(split_part(v_scope, ':', 2), '')::uuid;
    v_held text;
    k api_keys;
BEGIN
    IF p_role NOT IN ('viewer', 'editor', 'admin') THEN
        PERFORM mf_raise('400', 'role must be viewer, editor or admin');
    END IF;
    IF v_type NOT IN ('personal', 'service') THEN
        PERFORM mf_raise('400', 'type must be personal or service');
    END IF;
    IF p_expires IS NOT NULL AND p_expires <= now() THEN
        PERFORM mf_raise('400', 'expires_at must be in the future');
    END IF;
    SELECT r.domain_id, r.dataset_id INTO v_domain, v_dataset FROM mf_resolve_scope('scope', p_domain, p_ns, p_dataset) r;
    IF (v_domain IS NOT NULL OR v_dataset IS NOT NULL) AND p_role = 'admin' THEN
        PERFORM mf_raise('400', 'a scoped key may be viewer or editor; admin keys reach the whole tenant');
    END IF;
    IF v_type = 'personal' AND v_user IS NULL THEN
        PERFORM mf_raise('400', 'a service key acts for no person, so it cannot create personal keys; '
                                'give "type": "service" (tenant admins only) or sign in');
    END IF;
    IF v_type = 'service' AND NOT v_admin THEN
        PERFORM mf_raise('403', 'only a tenant admin may create service keys; create a personal key instead');
    END IF;
    -- never more than the creator holds: role ...
    IF mf_role_rank(p_role) > mf_role_rank(p_caller_role) THEN
        PERFORM mf_raise('403', format('you hold the %s role: a key cannot have more (%s)', p_caller_role, p_role));
    END IF;
    -- ... scope (a scoped caller makes keys within its scope) ...
    IF v_scope <> '' THEN
        IF NOT coalesce((v_scope_kind = 'domain' AND (v_domain = v_scope_id OR
                                                       EXISTS (SELECT 1 FROM datasets s WHERE s.id = v_dataset
                                                                 AND s.domain_id = v_scope_id)))
                         OR (v_scope_kind = 'dataset' AND v_dataset = v_scope_id), false) THEN
            PERFORM mf_raise('403', format('this key is scoped to %s: a key it creates must have the same or a '
                                           'narrower scope, not %s',
                                           CASE v_scope_kind WHEN 'domain' THEN mf_scope_text(v_scope_id, NULL)
                                                             ELSE mf_scope_text(NULL, v_scope_id) END,
                                           mf_scope_text(v_domain, v_dataset)));
        END IF;
    END IF;
    -- ... and, for a person, their tenant role unless a grant on the scope gives more
    IF v_type = 'personal' THEN
        v_held := mf_user_role_on(mf_current_tenant(), v_user, v_domain, v_dataset);
        IF v_held IS NULL THEN
            PERFORM mf_raise('403', 'you are not a member of this tenant');
        END IF;
        IF mf_role_rank(p_role) > mf_role_rank(v_held) THEN
            PERFORM mf_raise('403', format('you hold %s on %s: a key cannot have %s there%s', v_held,
                                           mf_scope_text(v_domain, v_dataset), p_role,
                                           CASE WHEN v_domain IS NULL AND v_dataset IS NULL
                                                THEN ' (scope it to a domain or dataset where a grant gives you '
                                                     || p_role || ')' ELSE '' END));
        END IF;
    END IF;
    INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, created_by, expires_at, user_id,
                          scope_domain_id, scope_dataset_id)
    VALUES (mf_current_tenant(), p_name, p_prefix, p_hash, p_role, coalesce(current_setting('mf.actor', true), ''),
            p_expires, CASE WHEN v_type = 'personal' THEN v_user END, v_domain, v_dataset)
    RETURNING * INTO k;
    RETURN mf_api_key_doc(k);
END
$$;

-- A page of keys in creation order: a tenant admin sees every key of the
-- tenant, anyone else only their own personal keys.
CREATE FUNCTION mf_api_key_list(p_limit integer, p_after jsonb, p_caller_role text)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT x.k, row_number() OVER (ORDER BY (x.k).created_at, (x.k).id) AS n
        FROM (SELECT k FROM api_keys k, mf_cursor_ts_id(p_after) c
              WHERE k.tenant_id = mf_current_tenant()
                AND (mf_is_tenant_admin(p_caller_role) OR k.user_id = mf_current_user_id())
                AND (p_after IS NULL OR (k.created_at, k.id) > (c.ts, c.id))
              ORDER BY k.created_at, k.id LIMIT p_limit + 1) x
    )
    SELECT coalesce(jsonb_agg(mf_api_key_doc(k) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN
               (jsonb_agg(jsonb_build_array((k).created_at::text, (k).id::text) ORDER BY n) -> (p_limit - 1))::text END
    FROM page
$$;

-- Revoke a key: a tenant admin any key of the tenant, anyone else their own
-- personal keys. The id when revoked, no row when absent (or not theirs).
CREATE FUNCTION mf_api_key_revoke(p_id uuid, p_caller_role text) RETURNS SETOF uuid
LANGUAGE sql AS $$
    UPDATE api_keys k SET revoked_at = now()
    WHERE k.tenant_id = mf_current_tenant() AND k.id = p_id AND k.revoked_at IS NULL
      AND (mf_is_tenant_admin(p_caller_role) OR k.user_id = mf_current_user_id())
    RETURNING k.id
$$;

-- ---------- members and grants ----------

CREATE FUNCTION mf_grant_doc(g role_grants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', g.id, 'role', g.role, 'created_at', mf_ts(g.created_at))
           || mf_scope_doc(g.domain_id, g.dataset_id)
$$;

CREATE FUNCTION mf_member_doc(m memberships) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'user', CASE WHEN u.id IS NOT NULL THEN jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name) END,
        'role', m.role, 'created_at', mf_ts(m.created_at), 'created_by', m.created_by,
        'last_login_at', mf_ts(u.last_login_at),
        'grants', (SELECT coalesce(jsonb_agg(mf_grant_doc(g) ORDER BY g.created_at, g.id), '[]') FROM role_grants g
                   WHERE g.tenant_id = m.tenant_id AND g.user_id = m.user_id))
    FROM (SELECT 1) one LEFT JOIN users u ON u.id = m.user_id
$$;

CREATE FUNCTION mf_member_list(p_limit integer, p_after jsonb)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT x.m, row_number() OVER (ORDER BY (x.m).created_at, (x.m).user_id) AS n
        FROM (SELECT m FROM memberships m, mf_cursor_ts_id(p_after) c
              WHERE m.tenant_id = mf_current_tenant()
                AND (p_after IS NULL OR (m.created_at, m.user_id) > (c.ts, c.id))
              ORDER BY m.created_at, m.user_id LIMIT p_limit + 1) x
    )
    SELECT coalesce(jsonb_agg(mf_member_doc(m) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN
               (jsonb_agg(jsonb_build_array((m).created_at::text, (m).user_id::text) ORDER BY n) -> (p_limit - 1))::text END
    FROM page
$$;

-- Serialise changes to a tenant's members (the last-admin rule reads them all).
CREATE FUNCTION mf_members_lock() RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('mf.members.' || mf_current_tenant()::text, 0))
$$;

-- The member p_user of the current tenant, locked; 404 when there is none.
CREATE FUNCTION mf_member_for_update(p_user uuid) RETURNS memberships
LANGUAGE plpgsql AS $$
DECLARE m memberships;
BEGIN
    SELECT * INTO m FROM memberships x WHERE x.tenant_id = mf_current_tenant() AND x.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', 'member not found');
    END IF;
    RETURN m;
END
$$;

-- 409 when m is the tenant's only admin member and is about to stop being one.
CREATE FUNCTION mf_member_keep_an_admin(m memberships, p_doing text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF m.role = 'admin' AND NOT EXISTS (SELECT 1 FROM memberships x WHERE x.tenant_id = m.tenant_id
                                          AND x.role = 'admin' AND x.user_id <> m.user_id) THEN
        PERFORM mf_raise('409', format('cannot %s the tenant''s last admin member (%s); make another member admin first',
                                       p_doing, (SELECT u.email FROM users u WHERE u.id = m.user_id)));
    END IF;
END
$$;

-- Change a member's tenant role; returns the member document.
CREATE FUNCTION mf_member_set_role(p_user uuid, p_role text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE m memberships;
BEGIN
    IF p_role IS NULL OR p_role NOT IN ('viewer', 'editor', 'admin') THEN
        PERFORM mf_raise('400', 'role must be viewer, editor or admin');
    END IF;
    PERFORM mf_members_lock();
    m := mf_member_for_update(p_user);
    IF p_role <> 'admin' THEN
        PERFORM mf_member_keep_an_admin(m, 'demote');
    END IF;
    IF m.role <> p_role THEN
        UPDATE memberships x SET role = p_role WHERE x.tenant_id = m.tenant_id AND x.user_id = m.user_id
        RETURNING * INTO m;
    END IF;
    RETURN mf_member_doc(m);
END
$$;

-- Remove a member: their personal keys of this tenant are revoked, their
-- sessions and grants go with the membership. 404 when absent.
CREATE FUNCTION mf_member_remove(p_user uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE m memberships;
BEGIN
    PERFORM mf_members_lock();
    m := mf_member_for_update(p_user);
    PERFORM mf_member_keep_an_admin(m, 'remove');
    UPDATE api_keys k SET revoked_at = now()
    WHERE k.tenant_id = m.tenant_id AND k.user_id = m.user_id AND k.revoked_at IS NULL;
    DELETE FROM memberships x WHERE x.tenant_id = m.tenant_id AND x.user_id = m.user_id;
END
$$;

-- Give a member a role on a domain (p_domain) or a dataset (p_ns/p_dataset).
-- 404 for an unknown member, 400 for an unknown domain or dataset, 409 when
-- the member already has a grant there. Returns the grant document.
CREATE FUNCTION mf_grant_add(p_user uuid, p_role text, p_domain text, p_ns text, p_dataset text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m memberships;
    g role_grants;
    v_domain uuid;
    v_dataset uuid;
BEGIN
    IF p_role IS NULL OR p_role NOT IN ('viewer', 'editor') THEN
        PERFORM mf_raise('400', 'a grant''s role must be viewer or editor (make the member admin for more)');
    END IF;
    PERFORM mf_members_lock();
    m := mf_member_for_update(p_user);
    SELECT r.domain_id, r.dataset_id INTO v_domain, v_dataset FROM mf_resolve_scope('grant', p_domain, p_ns, p_dataset) r;
    BEGIN
        INSERT INTO role_grants (tenant_id, user_id, domain_id, dataset_id, role)
        VALUES (m.tenant_id, m.user_id, v_domain, v_dataset, p_role) RETURNING * INTO g;
    EXCEPTION WHEN unique_violation THEN
        PERFORM mf_raise('409', format('this member already has a grant on %s; remove it first',
                                       mf_scope_text(v_domain, v_dataset)));
    END;
    RETURN mf_grant_doc(g);
END
$$;

-- ---------- invitations ----------

CREATE FUNCTION mf_invitation_doc(i invitations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', i.id, 'email', i.email, 'role', i.role,
        'status', CASE WHEN i.accepted_at IS NOT NULL THEN 'accepted' WHEN i.expires_at <= now() THEN 'expired'
                       ELSE 'pending' END,
        'created_at', mf_ts(i.created_at), 'created_by', i.created_by, 'expires_at', mf_ts(i.expires_at),
        'accepted_at', mf_ts(i.accepted_at))
$$;

/*
 * Invite p_email (lowercased) as p_role until p_expires (NULL: 7 days). The
 * invitation is accepted when that person first signs in to the tenant
 * (mf_login_complete). 400 for a malformed address or a past expiry; 409 when
 * the person is a member already or a pending invitation exists (an expired
 * one is replaced).
 */
CREATE FUNCTION mf_invitation_create(p_email text, p_role text, p_expires timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_email text := lower(p_email);
    i invitations;
BEGIN
    IF v_email IS NULL OR length(v_email) NOT BETWEEN 3 AND 320 OR v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$' THEN
        PERFORM mf_raise('400', 'email must be an email address such as ada@example.com');
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('viewer', 'editor', 'admin') THEN
        PERFORM mf_raise('400', 'role must be viewer, editor or admin');
    END IF;
    IF p_expires IS NOT NULL AND p_expires <= now() THEN
        PERFORM mf_raise('400', 'expires_at must be in the future');
    END IF;
    PERFORM mf_members_lock();
    IF EXISTS (SELECT 1 FROM users u JOIN memberships m ON m.user_id = u.id AND m.tenant_id = mf_current_tenant()
               WHERE u.email = v_email) THEN
        PERFORM mf_raise('409', format('%s is already a member of this tenant', v_email));
    END IF;
    SELECT * INTO i FROM invitations x
    WHERE x.tenant_id = mf_current_tenant() AND x.email = v_email AND x.accepted_at IS NULL;
    IF FOUND THEN
        IF i.expires_at > now() THEN
            PERFORM mf_raise('409', format('%s already has a pending invitation (%s) until %s', v_email, i.id,
                                           mf_ts(i.expires_at)));
        END IF;
        DELETE FROM invitations x WHERE x.id = i.id;
    END IF;
    INSERT INTO invitations (tenant_id, email, role, created_by, expires_at)
    VALUES (mf_current_tenant(), v_email, p_role, coalesce(current_setting('mf.actor', true), ''),
            coalesce(p_expires, now() + interval '7 days'))
    RETURNING * INTO i;
    RETURN mf_invitation_doc(i);
END
$$;

CREATE FUNCTION mf_invitation_list(p_limit integer, p_after jsonb)
RETURNS TABLE (items text, next_key text)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT x.i, row_number() OVER (ORDER BY (x.i).created_at, (x.i).id) AS n
        FROM (SELECT i FROM invitations i, mf_cursor_ts_id(p_after) c
              WHERE i.tenant_id = mf_current_tenant()
                AND (p_after IS NULL OR (i.created_at, i.id) > (c.ts, c.id))
              ORDER BY i.created_at, i.id LIMIT p_limit + 1) x
    )
    SELECT coalesce(jsonb_agg(mf_invitation_doc(i) ORDER BY n) FILTER (WHERE n <= p_limit), '[]')::text,
           CASE WHEN count(*) > p_limit THEN
               (jsonb_agg(jsonb_build_array((i).created_at::text, (i).id::text) ORDER BY n) -> (p_limit - 1))::text END
    FROM page
$$;

