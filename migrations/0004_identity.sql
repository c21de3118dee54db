-- 0004: people and their access. Users sign in through OpenID Connect (the
-- platform's default provider or their tenant's own), become members of a
-- tenant just in time (verified email domain or invitation), and get a
-- server-side session. API keys gain an owner (personal keys act for their
-- user) and an optional scope (a domain or a dataset). Security events go to
-- the audit log through mf_audit_event.

-- ---------- tables ----------

-- A person, across tenants (one email, many memberships).
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    name          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE memberships (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- A role on one domain or one dataset, on top of the member's tenant role.
CREATE TABLE role_grants (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    domain_id  uuid REFERENCES domains(id) ON DELETE CASCADE,
    dataset_id uuid REFERENCES datasets(id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('viewer', 'editor')),
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships(tenant_id, user_id) ON DELETE CASCADE,
    CHECK ((domain_id IS NULL) <> (dataset_id IS NULL))
);
CREATE UNIQUE INDEX role_grants_domain ON role_grants (user_id, domain_id) WHERE domain_id IS NOT NULL;
CREATE UNIQUE INDEX role_grants_dataset ON role_grants (user_id, dataset_id) WHERE dataset_id IS NOT NULL;
CREATE INDEX role_grants_tenant ON role_grants (tenant_id, created_at, id);

CREATE TABLE invitations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email       text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    role        text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz
);
CREATE UNIQUE INDEX invitations_pending ON invitations (tenant_id, email) WHERE accepted_at IS NULL;
CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at, id);

-- A tenant's sign-in settings. NULL issuer: the platform's default provider.
CREATE TABLE sso_settings (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    issuer          text CHECK (issuer ~ '^https?://'),
    client_id       text,
    client_secret   text,
    allowed_domains text[] NOT NULL DEFAULT '{}',
    default_role    text NOT NULL DEFAULT 'viewer' CHECK (default_role IN ('viewer', 'editor')),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((issuer IS NULL) = (client_id IS NULL))
);

-- A sign-in in progress: created by /auth/login, consumed once by /auth/callback.
-- Reached only through the functions below (no tenant context exists yet).
CREATE TABLE login_states (
    state_hash    text PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    issuer        text NOT NULL,
    return_to     text NOT NULL DEFAULT '/',
    created_at    timestamptz NOT NULL DEFAULT now(),
    used_at       timestamptz
);
CREATE INDEX login_states_created ON login_states (created_at);

CREATE TABLE sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash   text NOT NULL UNIQUE,
    tenant_id    uuid NOT NULL,
    user_id      uuid NOT NULL,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    client_addr  text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships(tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- Platform keys (no tenant) are platform_admin or billing_admin.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check, DROP CONSTRAINT api_keys_check,
    ADD CONSTRAINT api_keys_role_check CHECK (role IN ('viewer', 'editor', 'admin', 'platform_admin', 'billing_admin')),
    ADD CONSTRAINT api_keys_platform_check CHECK ((tenant_id IS NULL) = (role IN ('platform_admin', 'billing_admin')));

-- Personal keys act for their user (and die with the membership); a scoped key
-- reaches only its domain or dataset.
ALTER TABLE api_keys
    ADD COLUMN user_id uuid REFERENCES users(id) ON DELETE CASCADE,
    ADD COLUMN scope_domain_id uuid REFERENCES domains(id) ON DELETE CASCADE,
    ADD COLUMN scope_dataset_id uuid REFERENCES datasets(id) ON DELETE CASCADE,
    ADD CONSTRAINT api_keys_one_scope CHECK (scope_domain_id IS NULL OR scope_dataset_id IS NULL),
    ADD CONSTRAINT api_keys_scoped_role CHECK ((scope_domain_id IS NULL AND scope_dataset_id IS NULL)
                                               OR role IN ('viewer', 'editor'));

-- A personal key ends with its owner's membership, however the membership
-- goes (kept as revoked, so the key list still shows it).
CREATE FUNCTION mf_revoke_member_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE api_keys SET revoked_at = now()
    WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER revoke_keys AFTER DELETE ON memberships FOR EACH ROW EXECUTE FUNCTION mf_revoke_member_keys();

-- ---------- isolation, audit, grants ----------

SELECT mf_enable_tenant_isolation(ARRAY['memberships', 'role_grants', 'invitations', 'sso_settings', 'sessions']);
-- A tenant sees the users who are its members, nobody else.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_of_tenant ON users
    USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.tenant_id = mf_current_tenant()));
ALTER TABLE login_states ENABLE ROW LEVEL SECURITY; -- no policy: only the definer functions reach it

-- The audit trigger also keeps provider secrets and session tokens out of the log.
CREATE OR REPLACE FUNCTION mf_audit_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_j jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    row_j jsonb;
BEGIN
    -- secrets never reach the log; a key's last use is bookkeeping, not a change
    old_j := old_j - 'secret_hash' - 'client_secret' - 'token_hash' - 'csrf_token' - 'last_used_at';
    new_j := new_j - 'secret_hash' - 'client_secret' - 'token_hash' - 'csrf_token' - 'last_used_at';
    IF TG_TABLE_NAME = 'datasets' THEN
        -- the stored document is derived data: not audited, and refreshing it is no change
        old_j := old_j - 'doc';
        new_j := new_j - 'doc';
    END IF;
    IF TG_OP = 'UPDATE' AND old_j = new_j THEN
        RETURN NULL;
    END IF;
    row_j := coalesce(new_j, old_j);
    INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
    VALUES (coalesce((row_j->>'tenant_id')::uuid, CASE WHEN TG_TABLE_NAME = 'tenants' THEN (row_j->>'id')::uuid END),
            coalesce(current_setting('mf.actor', true), ''),
            TG_ARGV[0] || '.' || CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE lower(TG_OP) END,
            coalesce(CASE WHEN row_j ? 'namespace' THEN (row_j->>'namespace') || '/' END, '') ||
                coalesce(row_j->>'name', row_j->>'email', row_j->>'prefix', row_j->>'user_id', row_j->>'id', ''),
            coalesce(current_setting('mf.request_id', true), ''),
            coalesce(current_setting('mf.client_addr', true), ''),
            old_j, new_j);
    RETURN NULL;
END
$$;

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON memberships FOR EACH ROW EXECUTE FUNCTION mf_audit_row('member');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON role_grants FOR EACH ROW EXECUTE FUNCTION mf_audit_row('grant');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON invitations FOR EACH ROW EXECUTE FUNCTION mf_audit_row('invitation');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sso_settings FOR EACH ROW EXECUTE FUNCTION mf_audit_row('sso');

GRANT SELECT ON users TO mf_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON memberships, role_grants, invitations, sso_settings TO mf_app;
GRANT SELECT, UPDATE, DELETE ON sessions TO mf_app;

-- ---------- security events ----------

-- Append a security event (login, failed login, permission denied, ...) for
-- p_tenant (NULL: platform level) with the request's actor, id and address.
CREATE FUNCTION mf_audit_event(p_tenant uuid, p_action text, p_target text, p_detail jsonb)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, after)
    VALUES (p_tenant, coalesce(current_setting('mf.actor', true), ''), p_action, left(coalesce(p_target, ''), 256),
            coalesce(current_setting('mf.request_id', true), ''),
            coalesce(current_setting('mf.client_addr', true), ''), p_detail)
$$;

-- ---------- authentication ----------

-- The tenant role a user holds now (NULL: not a member).
CREATE FUNCTION mf_member_role(p_tenant uuid, p_user uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT role FROM memberships WHERE tenant_id = p_tenant AND user_id = p_user
$$;

CREATE FUNCTION mf_role_rank(r text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE r WHEN 'viewer' THEN 1 WHEN 'editor' THEN 2 WHEN 'admin' THEN 3 WHEN 'platform_admin' THEN 100 ELSE 0 END
$$;

CREATE FUNCTION mf_role_min(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN mf_role_rank(a) <= mf_role_rank(b) THEN a ELSE b END
$$;

-- The highest role p_user holds in p_tenant on a domain (p_domain) or a dataset
-- (p_dataset, which its domain's grant also covers); both NULL: the tenant
-- role. NULL when the user is not a member.
CREATE FUNCTION mf_user_role_on(p_tenant uuid, p_user uuid, p_domain uuid, p_dataset uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT x.role FROM (
        SELECT m.role FROM memberships m WHERE m.tenant_id = p_tenant AND m.user_id = p_user
        UNION ALL
        SELECT g.role FROM role_grants g
        WHERE g.tenant_id = p_tenant AND g.user_id = p_user
          AND (g.domain_id = p_domain OR g.dataset_id = p_dataset
               OR g.domain_id = (SELECT d.domain_id FROM datasets d WHERE d.id = p_dataset))
    ) x
    WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = p_tenant AND m.user_id = p_user)
    ORDER BY mf_role_rank(x.role) DESC LIMIT 1
$$;

-- A key or session, resolved: what the service caches per credential.
--   role:      the highest role the credential may use on some object (routes check it)
--   write_all: 'on' when it may write anywhere in the tenant, '' when only in its scope
--   scope:     '' or 'domain:<uuid>' / 'dataset:<uuid>' (keys bound below the tenant)
--   status:    the tenant's status (the service refuses suspended tenants with 403)
DROP FUNCTION mf_auth_key(text, text);
CREATE FUNCTION mf_auth_key(p_prefix text, p_hash text)
RETURNS TABLE (key_id uuid, tenant_id uuid, role text, emit_quota bigint, status text, user_id uuid,
               write_all text, scope text, display text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k api_keys;
    quota bigint := 0;
    t_status text := 'active';
    eff text;
    member text;
BEGIN
    SELECT * INTO k FROM api_keys a WHERE a.prefix = p_prefix;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF k.secret_hash <> p_hash OR k.revoked_at IS NOT NULL OR (k.expires_at IS NOT NULL AND k.expires_at <= now()) THEN
        -- a known prefix: the failure belongs on that tenant's record
        PERFORM mf_audit_event(k.tenant_id, 'auth.failed', 'key:' || k.prefix,
                               jsonb_build_object('reason', CASE WHEN k.secret_hash <> p_hash THEN 'wrong secret'
                                                                 WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                                                                 ELSE 'expired' END));
        RETURN;
    END IF;
    eff := k.role;
    IF k.tenant_id IS NOT NULL THEN
        SELECT p.max_emit_events, t.status INTO quota, t_status FROM tenants t JOIN plans p ON p.name = t.plan
        WHERE t.id = k.tenant_id;
        IF k.user_id IS NOT NULL THEN
            -- a personal key never exceeds what its user holds today (on the key's scope)
            member := mf_user_role_on(k.tenant_id, k.user_id, k.scope_domain_id, k.scope_dataset_id);
            IF member IS NULL THEN
                RETURN;
            END IF;
            eff := mf_role_min(eff, member);
        END IF;
    END IF;
    IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' THEN
        UPDATE api_keys SET last_used_at = now() WHERE id = k.id;
    END IF;
    key_id := k.id; tenant_id := k.tenant_id; role := eff; emit_quota := quota; status := t_status;
    user_id := k.user_id;
    scope := CASE WHEN k.scope_domain_id IS NOT NULL THEN 'domain:' || k.scope_domain_id
                  WHEN k.scope_dataset_id IS NOT NULL THEN 'dataset:' || k.scope_dataset_id ELSE '' END;
    write_all := CASE WHEN scope = '' AND mf_role_rank(eff) >= 2 THEN 'on' ELSE '' END;
    display := k.name;
    RETURN NEXT;
END
$$;

-- A browser session, resolved (same shape as a key plus the CSRF token). Ends
-- it when idle longer than p_idle_seconds or past its absolute expiry.
CREATE FUNCTION mf_auth_session(p_hash text, p_idle_seconds integer)
RETURNS TABLE (session_id uuid, tenant_id uuid, role text, emit_quota bigint, status text, user_id uuid,
               write_all text, scope text, display text, csrf_token text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    s sessions;
    member text;
    best text;
BEGIN
    SELECT * INTO s FROM sessions x WHERE x.token_hash = p_hash AND x.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.expires_at <= now() OR s.last_seen_at < now() - make_interval(secs => p_idle_seconds) THEN
        UPDATE sessions SET revoked_at = now() WHERE id = s.id;
        RETURN;
    END IF;
    member := mf_member_role(s.tenant_id, s.user_id);
    IF member IS NULL THEN
        RETURN;
    END IF;
    SELECT g.role INTO best FROM role_grants g WHERE g.tenant_id = s.tenant_id AND g.user_id = s.user_id
    ORDER BY mf_role_rank(g.role) DESC LIMIT 1;
    IF s.last_seen_at < now() - interval '30 seconds' THEN
        UPDATE sessions SET last_seen_at = now() WHERE id = s.id;
    END IF;
    SELECT p.max_emit_events, t.status INTO emit_quota, status FROM tenants t JOIN plans p ON p.name = t.plan
    WHERE t.id = s.tenant_id;
    session_id := s.id; tenant_id := s.tenant_id; user_id := s.user_id; csrf_token := s.csrf_token;
    role := CASE WHEN mf_role_rank(best) > mf_role_rank(member) THEN best ELSE member END;
    write_all := CASE WHEN mf_role_rank(member) >= 2 THEN 'on' ELSE '' END;
    scope := '';
    SELECT u.email INTO display FROM users u WHERE u.id = s.user_id;
    RETURN NEXT;
END
$$;

-- ---------- sign-in ----------

-- Start a sign-in for a tenant given by id or name. Returns the provider to
-- use (issuer and client NULL: the platform default) or raises 404.
CREATE FUNCTION mf_login_begin(p_tenant text, p_state_hash text, p_nonce text, p_verifier text,
                               p_default_issuer text, p_return_to text)
RETURNS TABLE (tenant_id uuid, issuer text, client_id text, client_secret text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t tenants;
    cfg sso_settings;
BEGIN
    IF p_tenant ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
        SELECT * INTO t FROM tenants x WHERE x.id = p_tenant::uuid;
    ELSE
        SELECT * INTO t FROM tenants x WHERE x.name = p_tenant;
    END IF;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', 'no such tenant');
    END IF;
    IF t.status <> 'active' THEN
        PERFORM mf_raise('403', 'this tenant is suspended');
    END IF;
    SELECT * INTO cfg FROM sso_settings x WHERE x.tenant_id = t.id;
    issuer := coalesce(cfg.issuer, nullif(p_default_issuer, ''));
    IF issuer IS NULL THEN
        PERFORM mf_raise('404', 'single sign-on is not configured for this tenant');
    END IF;
    DELETE FROM login_states WHERE created_at < now() - interval '1 hour';
    INSERT INTO login_states (state_hash, tenant_id, nonce, code_verifier, issuer, return_to)
    VALUES (p_state_hash, t.id, p_nonce, p_verifier, issuer, p_return_to);
    tenant_id := t.id; client_id := cfg.client_id; client_secret := cfg.client_secret;
    RETURN NEXT;
END
$$;

-- Consume a sign-in state once (10 minutes to come back). A state known but
-- already used or expired comes back with its tenant and `problem` set (so
-- the refusal is on that tenant's record); an unknown one gives no row.
CREATE FUNCTION mf_login_take(p_state_hash text)
RETURNS TABLE (tenant_id uuid, nonce text, code_verifier text, issuer text, client_id text, client_secret text,
               return_to text, problem text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l login_states;
BEGIN
    UPDATE login_states x SET used_at = now()
    WHERE x.state_hash = p_state_hash AND x.used_at IS NULL AND x.created_at > now() - interval '10 minutes'
    RETURNING * INTO l;
    IF FOUND THEN
        RETURN QUERY SELECT l.tenant_id, l.nonce, l.code_verifier, l.issuer, s.client_id, s.client_secret,
                            l.return_to, NULL::text
                     FROM (SELECT 1) one LEFT JOIN sso_settings s ON s.tenant_id = l.tenant_id AND s.issuer = l.issuer;
        RETURN;
    END IF;
    RETURN QUERY SELECT x.tenant_id, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                        CASE WHEN x.used_at IS NOT NULL THEN 'already used' ELSE 'expired' END
                 FROM login_states x WHERE x.state_hash = p_state_hash;
END
$$;

-- Finish a sign-in whose ID token the service verified: provision the user
-- just in time (a pending invitation, or a verified email in one of the
-- tenant's allowed domains), open a session, record the login. When the
-- person may not join the tenant it records login.denied and returns only
-- `denied` (the reason): raising would roll the audit row back.
CREATE FUNCTION mf_login_complete(p_tenant uuid, p_email text, p_email_verified boolean, p_name text,
                                  p_token_hash text, p_csrf text, p_max_age_seconds integer, p_user_agent text)
RETURNS TABLE (session_id uuid, user_id uuid, role text, denied text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_email text := lower(p_email);
    u users;
    inv invitations;
    cfg sso_settings;
    member text;
    why text;
BEGIN
    PERFORM set_config('mf.tenant_id', p_tenant::text, true);
    PERFORM set_config('mf.actor', 'user:' || v_email, true);
    IF v_email IS NULL OR v_email !~ '^[^@\s]+@[^@\s]+$' OR NOT p_email_verified THEN
        why := 'the identity provider did not assert a verified email address';
    ELSE
        SELECT * INTO u FROM users x WHERE x.email = v_email;
        IF FOUND THEN
            member := mf_member_role(p_tenant, u.id);
        END IF;
        IF member IS NULL THEN
            SELECT * INTO inv FROM invitations i
            WHERE i.tenant_id = p_tenant AND i.email = v_email AND i.accepted_at IS NULL AND i.expires_at > now();
            SELECT * INTO cfg FROM sso_settings s WHERE s.tenant_id = p_tenant;
            IF inv.id IS NOT NULL THEN
                member := inv.role;
                UPDATE invitations SET accepted_at = now() WHERE id = inv.id;
            ELSIF split_part(v_email, '@', 2) = ANY (coalesce(cfg.allowed_domains, '{}')) THEN
                member := coalesce(cfg.default_role, 'viewer');
            ELSE
                why := 'not invited, and the email domain is not one this tenant admits';
            END IF;
            IF member IS NOT NULL THEN
                IF u.id IS NULL THEN
                    INSERT INTO users (email, name) VALUES (v_email, coalesce(p_name, '')) RETURNING * INTO u;
                END IF;
                INSERT INTO memberships (tenant_id, user_id, role, created_by)
                VALUES (p_tenant, u.id, member, 'sso');
            END IF;
        END IF;
    END IF;
    IF why IS NOT NULL THEN
        PERFORM mf_audit_event(p_tenant, 'login.denied', coalesce(v_email, ''), jsonb_build_object('reason', why));
        denied := why;
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE users SET last_login_at = now(), name = CASE WHEN coalesce(p_name, '') <> '' THEN p_name ELSE name END
    WHERE id = u.id;
    INSERT INTO sessions (token_hash, tenant_id, user_id, csrf_token, expires_at, client_addr, user_agent)
    VALUES (p_token_hash, p_tenant, u.id, p_csrf, now() + make_interval(secs => p_max_age_seconds),
            coalesce(current_setting('mf.client_addr', true), ''), left(coalesce(p_user_agent, ''), 256))
    RETURNING id INTO session_id;
    PERFORM mf_audit_event(p_tenant, 'login', v_email, jsonb_build_object('session', session_id, 'role', member));
    user_id := u.id; role := member;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION mf_audit_event(uuid, text, text, jsonb), mf_member_role(uuid, uuid), mf_auth_key(text, text),
    mf_user_role_on(uuid, uuid, uuid, uuid),
    mf_auth_session(text, integer), mf_login_begin(text, text, text, text, text, text), mf_login_take(text),
    mf_login_complete(uuid, text, boolean, text, text, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_audit_event(uuid, text, text, jsonb), mf_member_role(uuid, uuid), mf_auth_key(text, text),
    mf_user_role_on(uuid, uuid, uuid, uuid),
    mf_auth_session(text, integer), mf_login_begin(text, text, text, text, text, text), mf_login_take(text),
    mf_login_complete(uuid, text, boolean, text, text, text, integer, text) TO mf_app;
