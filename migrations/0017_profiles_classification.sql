-- 0017_profiles_classification: column profiles kept over time, and PII /
-- sensitivity classification of fields (docs/classification.md).
--
-- Profiles. An ingest event may carry "profiles": [{"dataset": ref,
-- "row_count"?, "columns": {"<field>": {"null_count"?, "distinct_count"?,
-- "min"?, "max"?, "samples"?}}}] (the emit member "profile" and OpenLineage
-- dataQualityMetrics decode to it, libshared/include/mf/ingest.h). Each entry
-- becomes one dataset_profiles row and one column_profiles row per column.
-- Samples are never stored: mf_profile_record matches them against the
-- tenant's value rules and keeps only the counts (classification_findings:
-- how many of how many samples matched which rule).
--
-- Classification lives here, in SQL, because the rules are the tenant's
-- data: regular expressions (Postgres ARE, matched case-insensitively
-- against field names, case-sensitively against samples) plus a fixed set of
-- validators no regular expression can express (Luhn, US SSN ranges, IPv6,
-- phone digit counts). One row per (dataset, field, class) in
-- field_classifications, with its source:
--   rule       a name rule matched the field name
--   value      a value rule matched at least threshold of the samples
--   inherited  the class of an upstream field, along column lineage
--   person     set by a person without any suggestion
-- and its status: suggested (automatic), verified or rejected (a person,
-- PUT .../fields/{field}/classification). Automatic evaluation only ever
-- adds, changes or removes suggested rows; a verified row stays whatever the
-- rules say, and a rejected one is not suggested again by the rule that made
-- it (a rejection without a rule blocks every rule).
--
-- When it runs:
--   - fields written (every write path goes through mf_apply_dataset, which
--     re-inserts a dataset's fields): a statement trigger evaluates the name
--     rules for those datasets (mf_classify_direct);
--   - a profile with samples (mf_apply_event): value findings, then the same;
--   - a rule created, changed or deleted: the whole tenant, set-based.
--   - propagation (mf_classify_propagate) once per transaction and tenant,
--     at commit, from a deferred constraint trigger on field_classifications
--     and column_lineage: a class flows downstream along column lineage
--     (depth at most 10, cycles end at that bound) as "inherited", stopping at
--     a field where a person rejected it. An edge whose transformation masks
--     (mf_classification_masks: type INDIRECT, or a subtype among AGGREGATION,
--     MASKED, MASKING, HASH, HASHED, ENCRYPTED, TOKENIZED, ANONYMIZED,
--     ANONYMISED, REDACTED, PSEUDONYMIZED) marks what comes through it
--     may_be_anonymised; a field reached by an unmasked path as well is not.
--     Only the neighbourhood of what the transaction changed is recomputed
--     (classification_pending), so a write's cost does not grow with the
--     tenant.
-- The derivations run as the owner (a system conclusion, not the caller's
-- write: a scoped writer's new field may classify a downstream dataset it
-- cannot write), restricted to the tenant they are given.

-- ---------- rules ----------

CREATE TABLE classification_rules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    builtin     boolean NOT NULL DEFAULT false,
    kind        text NOT NULL CHECK (kind IN ('name', 'value')),
    pattern     text NOT NULL CHECK (length(pattern) BETWEEN 1 AND 512),
    validator   text CHECK (validator IN ('luhn', 'us_ssn', 'ipv6', 'phone')),
    class       text NOT NULL CHECK (class ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$' AND length(class) <= 64),
    sensitivity text NOT NULL CHECK (sensitivity IN ('public', 'internal', 'confidential', 'restricted')),
    threshold   numeric(4, 3) CHECK (threshold > 0 AND threshold <= 1),
    enabled     boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    CHECK ((kind = 'value') = (threshold IS NOT NULL)),
    CHECK (kind = 'value' OR validator IS NULL)
);

-- The rules every tenant starts with (copied into each tenant, where it may disable or change them).
CREATE FUNCTION mf_classification_defaults()
RETURNS TABLE (name text, kind text, pattern text, validator text, class text, sensitivity text, threshold numeric,
               description text)
LANGUAGE sql IMMUTABLE AS $$
    VALUES
    ('name-email', 'name', '(^|[^a-z])e[-_]?mail', NULL, 'pii.email', 'confidential', NULL,
     'field names with "email" or "e_mail"'),
    ('name-phone', 'name', '(^|[^a-z])(phone|mobile|cell|telephone|tel|fax|msisdn)([^a-z]|$)', NULL, 'pii.phone',
     'confidential', NULL, 'phone, mobile, cell, telephone, fax, msisdn'),
    ('name-card-number', 'name', '(^|[^a-z])(credit_?card|card_?(num|number|no)|cc_?(num|number)|pan)([^a-z]|$)',
     NULL, 'pii.card_number', 'restricted', NULL, 'payment card numbers'),
    ('name-ip-address', 'name', '(^|[^a-z])ip(v4|v6)?(_?addr(ess)?)?([^a-z]|$)', NULL, 'pii.ip_address', 'confidential',
     NULL, 'ip, ip_address, ipv4, ipv6'),
    ('name-national-id', 'name',
     '(^|[^a-z])(ssn|social_security(_number)?|national_id|nin|tax_id|passport(_number|_no)?)([^a-z]|$)', NULL,
     'pii.national_id', 'restricted', NULL, 'SSN, national ids, tax ids, passport numbers'),
    ('name-person-name', 'name',
     '^(first|last|full|given|family|middle|sur|maiden)_?name$|^name_(first|last)$|^(customer|person|contact)_name$',
     NULL, 'pii.name', 'confidential', NULL, 'first_name, last_name, full_name, ...'),
    ('name-birth-date', 'name', '(^|[^a-z])(dob|birth_?date|date_of_birth|birthday)([^a-z]|$)', NULL,
     'pii.date_of_birth', 'confidential', NULL, 'dates of birth'),
    ('name-address', 'name', '(^|[^a-z])(street|address_line[0-9]?|home_address|postal_code|post_code|zip_?code)([^a-z]|$)',
     NULL, 'pii.address', 'confidential', NULL, 'postal addresses'),
    ('name-credential', 'name', '(^|[^a-z])(password|passwd|secret|api_key|access_token|private_key)([^a-z]|$)', NULL,
     'sensitive.credential', 'restricted', NULL, 'passwords, secrets, keys and tokens'),
    ('value-email', 'value', '^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$', NULL, 'pii.email',
     'confidential', 0.8, 'email addresses'),
    ('value-phone', 'value', '^(\+[1-9][0-9 ().-]{6,20}|\(?[2-9][0-9]{2}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4})$', 'phone',
     'pii.phone', 'confidential', 0.8, 'E.164 (+...) or North American phone numbers with 7-15 digits'),
    ('value-card-number', 'value', '^[0-9]([0-9 -]{11,22})[0-9]$', 'luhn', 'pii.card_number', 'restricted', 0.8,
     'payment card numbers: 13-19 digits passing the Luhn check'),
    ('value-ipv4', 'value',
     '^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$', NULL,
     'pii.ip_address', 'confidential', 0.8, 'IPv4 addresses'),
    ('value-ipv6', 'value', '^[0-9A-Fa-f:.]{2,45}$', 'ipv6', 'pii.ip_address', 'confidential', 0.8, 'IPv6 addresses'),
    ('value-us-ssn', 'value', '^[0-9]{3}-[0-9]{2}-[0-9]{4}$', 'us_ssn', 'pii.national_id', 'restricted', 0.8,
     'US social security numbers outside the ranges never issued')
$$;

-- ---------- value validators ----------

-- Luhn check of a card number written with optional spaces or dashes (13-19 digits).
CREATE FUNCTION mf_luhn(p text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    d text := regexp_replace(p, '[ -]', '', 'g');
    s integer := 0;
    x integer;
BEGIN
    IF d !~ '^[0-9]{13,19}$' THEN
        RETURN false;
    END IF;
    FOR i IN 0 .. length(d) - 1 LOOP
        x := substr(d, length(d) - i, 1)::integer;
        IF i % 2 = 1 THEN
            x := x * 2;
            IF x > 9 THEN
                x := x - 9;
            END IF;
        END IF;
        s := s + x;
    END LOOP;
    RETURN s % 10 = 0;
END
$$;

-- A US SSN that could have been issued: area not 000, 666 or 900-999, group not 00, serial not 0000,
-- and not one of the numbers published in advertising (078-05-1120, 219-09-9999).
CREATE FUNCTION mf_us_ssn_ok(p text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT d ~ '^[0-9]{9}$' AND left(d, 3) NOT IN ('000', '666') AND left(d, 3) < '900'
           AND substr(d, 4, 2) <> '00' AND right(d, 4) <> '0000' AND d NOT IN ('078051120', '219099999')
    FROM regexp_replace(p, '-', '', 'g') d
$$;

CREATE FUNCTION mf_ipv6_ok(p text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN position(':' IN p) > 0 AND position('/' IN p) = 0 AND family(p::inet) = 6;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN false;
END
$$;

-- Does sample p (trimmed) pass value rule (pattern, validator)?
CREATE FUNCTION mf_classification_value_match(p_pattern text, p_validator text, p text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p ~ p_pattern AND CASE p_validator
        WHEN 'luhn' THEN mf_luhn(p)
        WHEN 'us_ssn' THEN mf_us_ssn_ok(p)
        WHEN 'ipv6' THEN mf_ipv6_ok(p)
        WHEN 'phone' THEN length(regexp_replace(p, '[^0-9]', '', 'g')) BETWEEN 7 AND 15
        ELSE true END
$$;

-- Does a column lineage transformation ("TYPE/SUBTYPE, TYPE/SUBTYPE", see
-- openlineage.c) mask what flows through it?
CREATE FUNCTION mf_classification_masks(p_transformation text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM regexp_split_to_table(upper(coalesce(p_transformation, '')), '\s*,\s*') t
        WHERE split_part(t, '/', 1) = 'INDIRECT'
           OR split_part(t, '/', 2) IN ('AGGREGATION', 'MASKED', 'MASKING', 'HASH', 'HASHED', 'ENCRYPTED', 'TOKENIZED',
                                        'ANONYMIZED', 'ANONYMISED', 'REDACTED', 'PSEUDONYMIZED')
           OR t IN ('MASKED', 'MASKING', 'HASH', 'HASHED', 'AGGREGATION'))
$$;

-- ---------- profiles, findings, classifications ----------

CREATE TABLE dataset_profiles (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    row_count  bigint CHECK (row_count >= 0),
    source     text NOT NULL DEFAULT '',
    run_id     uuid,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dataset_profiles_dataset ON dataset_profiles (dataset_id, id DESC);

CREATE TABLE column_profiles (
    profile_id     bigint NOT NULL REFERENCES dataset_profiles(id) ON DELETE CASCADE,
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id     uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    field_name     text NOT NULL,
    null_count     bigint CHECK (null_count >= 0),
    distinct_count bigint CHECK (distinct_count >= 0),
    min            jsonb,
    max            jsonb,
    sampled        integer NOT NULL DEFAULT 0, -- how many samples the classifier saw (they are not kept)
    PRIMARY KEY (profile_id, field_name)
);
CREATE INDEX column_profiles_field ON column_profiles (dataset_id, field_name, profile_id DESC);

-- What the value rules concluded from a column's latest samples.
CREATE TABLE classification_findings (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    field_name text NOT NULL,
    rule_id    uuid NOT NULL REFERENCES classification_rules(id) ON DELETE CASCADE,
    matched    integer NOT NULL CHECK (matched > 0),
    sampled    integer NOT NULL CHECK (sampled >= matched),
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, field_name, rule_id)
);
CREATE INDEX classification_findings_rule ON classification_findings (rule_id);

CREATE TABLE field_classifications (
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dataset_id        uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    field_name        text NOT NULL,
    class             text NOT NULL,
    sensitivity       text NOT NULL CHECK (sensitivity IN ('public', 'internal', 'confidential', 'restricted')),
    source            text NOT NULL CHECK (source IN ('rule', 'value', 'inherited', 'person')),
    status            text NOT NULL CHECK (status IN ('suggested', 'verified', 'rejected')),
    rule_id           uuid REFERENCES classification_rules(id) ON DELETE SET NULL,
    may_be_anonymised boolean NOT NULL DEFAULT false,
    via               jsonb,   -- value: {matched, sampled}; inherited: the upstream field, its edge, the origin
    depth             integer NOT NULL DEFAULT 0,
    note              text NOT NULL DEFAULT '',
    decided_by        text,
    decided_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, field_name, class)
);
CREATE INDEX field_classifications_tenant ON field_classifications (tenant_id, class);

SELECT mf_enable_tenant_isolation(ARRAY['classification_rules', 'dataset_profiles', 'column_profiles',
                                        'classification_findings', 'field_classifications']);
CREATE POLICY caller_scope ON dataset_profiles AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_id));
CREATE POLICY caller_scope ON column_profiles AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_id));
CREATE POLICY caller_scope ON classification_findings AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_id));
CREATE POLICY caller_scope ON field_classifications AS RESTRICTIVE FOR SELECT
    USING ((SELECT mf_access_unscoped()) OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_id));
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON dataset_profiles
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON column_profiles
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON classification_findings
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
CREATE TRIGGER access BEFORE INSERT OR UPDATE OR DELETE ON field_classifications
    FOR EACH ROW WHEN (mf_access_restricted()) EXECUTE FUNCTION mf_access_dataset_row_guard();
-- built-in rules are inserted only when a tenant is created: that is no person's change
CREATE TRIGGER audit AFTER INSERT ON classification_rules
    FOR EACH ROW WHEN (NOT NEW.builtin) EXECUTE FUNCTION mf_audit_row('classification_rule');
CREATE TRIGGER audit_change AFTER UPDATE OR DELETE ON classification_rules
    FOR EACH ROW EXECUTE FUNCTION mf_audit_row('classification_rule');
GRANT SELECT, INSERT, UPDATE, DELETE ON classification_rules, field_classifications, classification_findings TO mf_app;
GRANT SELECT, INSERT ON dataset_profiles, column_profiles TO mf_app;

-- Every tenant starts with the default rules; tenants that exist already get them now.
CREATE FUNCTION mf_classification_seed(p_tenant uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO classification_rules (tenant_id, name, builtin, kind, pattern, validator, class, sensitivity, threshold,
                                      description)
    SELECT p_tenant, d.name, true, d.kind, d.pattern, d.validator, d.class, d.sensitivity, d.threshold, d.description
    FROM mf_classification_defaults() d
    ON CONFLICT (tenant_id, name) DO NOTHING
$$;
REVOKE ALL ON FUNCTION mf_classification_seed(uuid) FROM PUBLIC;

CREATE FUNCTION mf_classification_seed_tenant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM mf_classification_seed(NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER classification_rules AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION mf_classification_seed_tenant();
SELECT mf_classification_seed(id) FROM tenants;

-- ---------- evaluation ----------

/*
 * The name rules and value findings of tenant p_tenant for datasets
 * p_datasets (NULL: all of them) as suggested rows: added, changed or
 * removed; verified rows are kept, rejected ones stay rejected for the rule
 * that made them. A value finding wins over a name rule for the same class.
 */
CREATE FUNCTION mf_classify_direct(p_tenant uuid, p_datasets uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH desired AS (
        SELECT f.dataset_id, f.name AS field_name, r.class, r.sensitivity, 'rule' AS source, r.id AS rule_id,
               NULL::jsonb AS via, 1 AS prio
        FROM fields f
        JOIN classification_rules r ON r.tenant_id = p_tenant AND r.kind = 'name' AND r.enabled AND f.name ~* r.pattern
        WHERE f.tenant_id = p_tenant AND (p_datasets IS NULL OR f.dataset_id IN (SELECT unnest(p_datasets)))
        UNION ALL
        SELECT x.dataset_id, x.field_name, r.class, r.sensitivity, 'value', r.id,
               jsonb_build_object('matched', x.matched, 'sampled', x.sampled), 0
        FROM classification_findings x
        JOIN classification_rules r ON r.id = x.rule_id AND r.enabled AND x.matched >= r.threshold * x.sampled
        WHERE x.tenant_id = p_tenant AND (p_datasets IS NULL OR x.dataset_id IN (SELECT unnest(p_datasets)))),
    best AS (
        SELECT DISTINCT ON (dataset_id, field_name, class) * FROM desired
        ORDER BY dataset_id, field_name, class, prio, sensitivity DESC, rule_id),
    gone AS (
        DELETE FROM field_classifications c
        WHERE c.tenant_id = p_tenant AND (p_datasets IS NULL OR c.dataset_id IN (SELECT unnest(p_datasets)))
          AND c.status = 'suggested' AND c.source IN ('rule', 'value')
          -- NOT IN (a hashed subplan): the planner cannot estimate best, and an anti join would loop
          AND (c.dataset_id, c.field_name, c.class) NOT IN (SELECT b.dataset_id, b.field_name, b.class FROM best b))
    INSERT INTO field_classifications AS c (tenant_id, dataset_id, field_name, class, sensitivity, source, status,
                                            rule_id, via)
    SELECT p_tenant, b.dataset_id, b.field_name, b.class, b.sensitivity, b.source, 'suggested', b.rule_id, b.via
    FROM best b
    ON CONFLICT (dataset_id, field_name, class) DO UPDATE SET
        sensitivity = EXCLUDED.sensitivity, source = EXCLUDED.source, status = 'suggested', rule_id = EXCLUDED.rule_id,
        via = EXCLUDED.via, may_be_anonymised = false, depth = 0, updated_at = now()
    WHERE c.status = 'suggested' AND (c.source, c.sensitivity, c.rule_id, c.via, c.depth)
                                     IS DISTINCT FROM (EXCLUDED.source, EXCLUDED.sensitivity, EXCLUDED.rule_id,
                                                       EXCLUDED.via, 0)
       OR (c.status = 'rejected' AND c.rule_id IS NOT NULL AND c.rule_id <> EXCLUDED.rule_id
           AND c.source <> 'person')
$$;
REVOKE ALL ON FUNCTION mf_classify_direct(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mf_classify_direct(uuid, uuid[]) TO mf_app;

/*
 * The inherited classes of tenant p_tenant, recomputed: every class that is
 * not an inherited suggestion and not rejected flows along column lineage
 * (at most 10 hops; a cycle ends there) to the fields downstream, except
 * through a field where a person rejected that class. Of the paths that reach
 * a field with a class, an unmasked one wins (so may_be_anonymised is true
 * only when every path masks), then the shortest.
 *
 * p_seeds: the datasets whose classes or incoming column lineage changed;
 * only the region within 10 hops downstream of them is recomputed, from the
 * classes within 10 hops upstream of that region (every path that can reach
 * it), so a write costs what its neighbourhood holds, not the tenant. NULL:
 * the whole tenant.
 */
CREATE FUNCTION mf_classify_propagate(p_tenant uuid, p_seeds uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH RECURSIVE down (id, depth) AS (
        SELECT unnest(p_seeds), 0
        UNION
        SELECT e.target_id, d.depth + 1 FROM down d
        JOIN lineage_edges e ON e.source_id = d.id AND e.tenant_id = p_tenant
        WHERE d.depth < 10),
    region AS (SELECT DISTINCT id FROM down),
    up (id, depth) AS (
        SELECT id, 0 FROM region
        UNION
        SELECT e.source_id, u.depth + 1 FROM up u
        JOIN lineage_edges e ON e.target_id = u.id AND e.tenant_id = p_tenant
        WHERE u.depth < 10),
    reach AS (SELECT DISTINCT id FROM up),
    edges AS (
        SELECT e.source_id, c.source_field, e.target_id, c.target_field, c.transformation,
               mf_classification_masks(c.transformation) AS masks
        FROM column_lineage c JOIN lineage_edges e ON e.id = c.edge_id
        WHERE c.tenant_id = p_tenant
          AND (p_seeds IS NULL OR (e.source_id IN (SELECT id FROM reach) AND e.target_id IN (SELECT id FROM reach)))),
    blocked AS (
        SELECT dataset_id, field_name, class FROM field_classifications
        WHERE tenant_id = p_tenant AND status = 'rejected'),
    walk (dataset_id, field_name, class, sensitivity, masked, depth, via, origin_ds, origin_field) AS (
        SELECT x.target_id, x.target_field, s.class, s.sensitivity, x.masks, 1,
               jsonb_build_object('dataset_id', s.dataset_id, 'field', s.field_name, 'transformation', x.transformation),
               s.dataset_id, s.field_name
        FROM field_classifications s
        JOIN edges x ON x.source_id = s.dataset_id AND x.source_field = s.field_name
        WHERE s.tenant_id = p_tenant AND s.status <> 'rejected' AND NOT (s.source = 'inherited' AND s.status = 'suggested')
          AND (p_seeds IS NULL OR s.dataset_id IN (SELECT id FROM reach))
        UNION
        SELECT x.target_id, x.target_field, w.class, w.sensitivity, w.masked OR x.masks, w.depth + 1,
               jsonb_build_object('dataset_id', w.dataset_id, 'field', w.field_name, 'transformation', x.transformation),
               w.origin_ds, w.origin_field
        FROM walk w
        JOIN edges x ON x.source_id = w.dataset_id AND x.source_field = w.field_name
        WHERE w.depth < 10
          AND (w.dataset_id, w.field_name, w.class) NOT IN (SELECT b.dataset_id, b.field_name, b.class FROM blocked b)),
    best AS (
        SELECT DISTINCT ON (dataset_id, field_name, class) * FROM walk
        WHERE NOT (dataset_id = origin_ds AND field_name = origin_field)
          AND (p_seeds IS NULL OR dataset_id IN (SELECT id FROM region))
        ORDER BY dataset_id, field_name, class, masked, depth, origin_ds, origin_field, via::text),
    gone AS (
        DELETE FROM field_classifications c
        WHERE c.tenant_id = p_tenant AND c.source = 'inherited' AND c.status = 'suggested'
          AND (p_seeds IS NULL OR c.dataset_id IN (SELECT id FROM region))
          AND (c.dataset_id, c.field_name, c.class) NOT IN (SELECT b.dataset_id, b.field_name, b.class FROM best b))
    INSERT INTO field_classifications AS c (tenant_id, dataset_id, field_name, class, sensitivity, source, status,
                                            may_be_anonymised, via, depth)
    SELECT p_tenant, b.dataset_id, b.field_name, b.class, b.sensitivity, 'inherited', 'suggested', b.masked,
           b.via || jsonb_build_object('origin', jsonb_build_object('dataset_id', b.origin_ds, 'field', b.origin_field)),
           b.depth
    FROM best b
    ON CONFLICT (dataset_id, field_name, class) DO UPDATE SET
        sensitivity = EXCLUDED.sensitivity, may_be_anonymised = EXCLUDED.may_be_anonymised, via = EXCLUDED.via,
        depth = EXCLUDED.depth, updated_at = now()
    WHERE c.source = 'inherited' AND c.status = 'suggested'
      AND (c.sensitivity, c.may_be_anonymised, c.via, c.depth)
          IS DISTINCT FROM (EXCLUDED.sensitivity, EXCLUDED.may_be_anonymised, EXCLUDED.via, EXCLUDED.depth)
$$;
REVOKE ALL ON FUNCTION mf_classify_propagate(uuid, uuid[]) FROM PUBLIC;

/*
 * What a transaction changed, for the propagation at its commit: the
 * datasets whose classes or incoming column lineage changed (the all-zero id:
 * the whole tenant, after column lineage was deleted, whose target is gone
 * with it). Rows live only within their transaction; unlogged, as a crash
 * loses the transaction anyway.
 */
CREATE UNLOGGED TABLE classification_pending (
    xact       xid8 NOT NULL,
    tenant_id  uuid NOT NULL,
    dataset_id uuid NOT NULL,
    PRIMARY KEY (xact, tenant_id, dataset_id)
);
REVOKE ALL ON classification_pending FROM PUBLIC;
-- only the owner's trigger functions below touch it (the owner is not subject to RLS); isolated all the same
SELECT mf_enable_tenant_isolation(ARRAY['classification_pending']);

CREATE FUNCTION mf_classify_mark() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    v_dataset uuid;
BEGIN
    IF position(r.tenant_id::text IN coalesce(current_setting('mf.classified', true), '')) > 0 THEN
        RETURN NULL; -- the propagation's own writes
    END IF;
    IF TG_TABLE_NAME = 'field_classifications' THEN
        v_dataset := r.dataset_id;
    ELSIF TG_OP <> 'DELETE' THEN
        SELECT target_id INTO v_dataset FROM lineage_edges WHERE id = r.edge_id;
    END IF;
    INSERT INTO classification_pending (xact, tenant_id, dataset_id)
    VALUES (pg_current_xact_id(), r.tenant_id, coalesce(v_dataset, '00000000-0000-0000-0000-000000000000'))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER classify_mark AFTER INSERT OR UPDATE OR DELETE ON field_classifications
    FOR EACH ROW EXECUTE FUNCTION mf_classify_mark();
CREATE TRIGGER classify_mark AFTER INSERT OR UPDATE OR DELETE ON column_lineage
    FOR EACH ROW EXECUTE FUNCTION mf_classify_mark();

/*
 * Deferred to commit, once per transaction and tenant: the transaction's
 * changes to classifications and column lineage are all in by then, and
 * classification_pending says where. The tenants done are remembered in the
 * transaction-local mf.classified; rows the propagation itself writes queue
 * this trigger again and find it done.
 */
CREATE FUNCTION mf_classify_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_tenant uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
    v_done text := coalesce(current_setting('mf.classified', true), '');
    v_seeds uuid[];
BEGIN
    IF position(v_tenant::text IN v_done) = 0 THEN
        PERFORM set_config('mf.classified', v_done || v_tenant::text || ',', true);
        WITH taken AS (DELETE FROM classification_pending
                       WHERE xact = pg_current_xact_id() AND tenant_id = v_tenant RETURNING dataset_id)
        SELECT CASE WHEN bool_or(dataset_id = '00000000-0000-0000-0000-000000000000') THEN NULL
                    ELSE coalesce(array_agg(dataset_id), '{}') END
        INTO v_seeds FROM taken;
        -- one propagation of a tenant at a time: two would delete and update the same rows in any order
        PERFORM pg_advisory_xact_lock(hashtext('mf_classify_propagate'), hashtext(v_tenant::text));
        PERFORM mf_classify_propagate(v_tenant, v_seeds);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER classify AFTER INSERT OR UPDATE OR DELETE ON field_classifications
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mf_classify_at_commit();
CREATE CONSTRAINT TRIGGER classify AFTER INSERT OR UPDATE OR DELETE ON column_lineage
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mf_classify_at_commit();

-- Fields written (mf_apply_dataset re-inserts a dataset's fields): the name rules for those datasets.
CREATE FUNCTION mf_classify_fields() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tenant_id, array_agg(DISTINCT dataset_id) ids FROM new_fields GROUP BY tenant_id LOOP
        PERFORM mf_classify_direct(t.tenant_id, t.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER classify AFTER INSERT ON fields REFERENCING NEW TABLE AS new_fields
    FOR EACH STATEMENT EXECUTE FUNCTION mf_classify_fields();

-- ---------- profiles from events ----------

/*
 * Record one profile entry of an event (see the header) for the current
 * tenant: the row counts and per-column statistics, and for columns with
 * samples the value rules' findings (the samples themselves are dropped).
 * Returns the dataset's id.
 */
CREATE FUNCTION mf_profile_record(p jsonb, p_source text, p_run uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_ds uuid := mf_ensure_dataset(p->'dataset'->>'namespace', p->'dataset'->>'name');
    v_profile bigint;
    v_sampled text[];
BEGIN
    INSERT INTO dataset_profiles (tenant_id, dataset_id, row_count, source, run_id)
    VALUES (mf_current_tenant(), v_ds, (p->>'row_count')::bigint, coalesce(p_source, ''), p_run)
    RETURNING id INTO v_profile;
    INSERT INTO column_profiles (profile_id, tenant_id, dataset_id, field_name, null_count, distinct_count, min, max,
                                 sampled)
    SELECT v_profile, mf_current_tenant(), v_ds, c.key, (c.value->>'null_count')::bigint,
           (c.value->>'distinct_count')::bigint, c.value->'min', c.value->'max',
           (SELECT count(*) FROM jsonb_array_elements_text(coalesce(c.value->'samples', '[]')) s WHERE btrim(s) <> '')
    FROM jsonb_each(coalesce(p->'columns', '{}')) c;

    v_sampled := ARRAY(SELECT c.key FROM jsonb_each(coalesce(p->'columns', '{}')) c
                       WHERE jsonb_typeof(c.value->'samples') = 'array');
    IF cardinality(v_sampled) = 0 THEN
        RETURN v_ds;
    END IF;
    -- a column's newest samples replace what its earlier ones concluded
    DELETE FROM classification_findings WHERE dataset_id = v_ds AND field_name = ANY (v_sampled);
    INSERT INTO classification_findings (tenant_id, dataset_id, field_name, rule_id, matched, sampled)
    SELECT mf_current_tenant(), v_ds, s.field_name, r.id,
           count(*) FILTER (WHERE mf_classification_value_match(r.pattern, r.validator, s.sample)), s.n
    FROM (SELECT c.key AS field_name, btrim(x) AS sample, count(*) OVER (PARTITION BY c.key) AS n
          FROM jsonb_each(p->'columns') c, jsonb_array_elements_text(c.value->'samples') x
          WHERE jsonb_typeof(c.value->'samples') = 'array' AND btrim(x) <> '') s
    JOIN classification_rules r ON r.tenant_id = mf_current_tenant() AND r.kind = 'value' AND r.enabled
    GROUP BY s.field_name, r.id, s.n
    HAVING count(*) FILTER (WHERE mf_classification_value_match(r.pattern, r.validator, s.sample)) > 0;
    PERFORM mf_classify_direct(mf_current_tenant(), ARRAY[v_ds]);
    RETURN v_ds;
END
$$;

ALTER FUNCTION mf_apply_event(jsonb) RENAME TO mf_apply_event_revisions;

/*
 * Apply one ingest event: everything but its profiles through
 * mf_apply_event_revisions (0014), then the profiles (after the datasets, so
 * a profile's fields are known to the name rules first).
 */
CREATE FUNCTION mf_apply_event(ev jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_summary jsonb := mf_apply_event_revisions(ev - 'profiles');
    p jsonb;
    n integer := 0;
BEGIN
    FOR p IN SELECT * FROM jsonb_array_elements(CASE WHEN jsonb_typeof(ev->'profiles') = 'array'
                                                     THEN ev->'profiles' ELSE '[]' END) LOOP
        PERFORM mf_profile_record(p, ev->>'source', (ev->'run'->>'run_id')::uuid);
        n := n + 1;
    END LOOP;
    RETURN v_summary || CASE WHEN n > 0 THEN jsonb_build_object('profiles', n) ELSE '{}' END;
END
$$;

ALTER FUNCTION mf_record_ingest_failure(jsonb, integer, text) RENAME TO mf_record_ingest_failure_as_is;

-- An event that keeps failing is kept for its tenant to read (0003), without its samples.
CREATE FUNCTION mf_record_ingest_failure(ev jsonb, p_attempts integer, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF jsonb_typeof(ev->'profiles') = 'array' THEN
        ev := jsonb_set(ev, '{profiles}', (
            SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(p->'columns') = 'object'
                THEN jsonb_set(p, '{columns}', (
                    SELECT coalesce(jsonb_object_agg(c.key, CASE WHEN jsonb_typeof(c.value) = 'object'
                                                                 THEN c.value - 'samples' ELSE c.value END), '{}')
                    FROM jsonb_each(p->'columns') c))
                ELSE p END), '[]')
            FROM jsonb_array_elements(ev->'profiles') p));
    END IF;
    PERFORM mf_record_ingest_failure_as_is(ev, p_attempts, p_reason);
END
$$;

-- ---------- reads ----------

-- The latest profile of each column of a visible dataset.
CREATE FUNCTION mf_profile_doc(p_ns text, p_name text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH d AS (SELECT mf_dataset_id(p_ns, p_name) AS id),
    latest AS (SELECT * FROM dataset_profiles WHERE dataset_id = (SELECT id FROM d) ORDER BY id DESC LIMIT 1),
    cols AS (
        SELECT DISTINCT ON (c.field_name) c.*, p.source, p.at
        FROM column_profiles c JOIN dataset_profiles p ON p.id = c.profile_id
        WHERE c.dataset_id = (SELECT id FROM d)
        ORDER BY c.field_name, c.profile_id DESC)
    SELECT jsonb_build_object(
        'dataset', mf_ref(p_ns, p_name),
        'row_count', (SELECT row_count FROM dataset_profiles WHERE dataset_id = (SELECT id FROM d) AND row_count IS NOT NULL
                      ORDER BY id DESC LIMIT 1),
        'profiled_at', (SELECT mf_ts(at) FROM latest),
        'profiles', (SELECT count(*) FROM dataset_profiles WHERE dataset_id = (SELECT id FROM d)),
        'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'name', field_name, 'null_count', null_count, 'distinct_count', distinct_count, 'min', min,
                        'max', max, 'sampled', sampled, 'source', source, 'profiled_at', mf_ts(at)) ORDER BY field_name), '[]')
                    FROM cols))
$$;

/*
 * One page of a visible dataset's profile history, newest first: the whole
 * profiles (p_column NULL) or one column's entries. List shape (list.h),
 * keyed by the profile id.
 */
CREATE FUNCTION mf_profile_history(p_limit integer, p_after jsonb, p_ns text, p_name text, p_column text,
                                   OUT items jsonb, OUT next_key jsonb)
LANGUAGE sql STABLE AS $$
    WITH d AS (SELECT mf_dataset_id(p_ns, p_name) AS id),
    page AS (
        SELECT p.id, jsonb_build_object('id', p.id, 'row_count', p.row_count, 'source', p.source, 'run_id', p.run_id,
                                        'profiled_at', mf_ts(p.at))
                     || CASE WHEN p_column IS NULL
                             THEN jsonb_build_object('columns', (SELECT count(*) FROM column_profiles c WHERE c.profile_id = p.id))
                             ELSE jsonb_build_object('column', c.field_name, 'null_count', c.null_count,
                                                     'distinct_count', c.distinct_count, 'min', c.min, 'max', c.max,
                                                     'sampled', c.sampled) END AS doc
        FROM dataset_profiles p
        LEFT JOIN column_profiles c ON c.profile_id = p.id AND c.field_name = p_column
        WHERE p.dataset_id = (SELECT id FROM d)
          AND (p_column IS NULL OR c.field_name IS NOT NULL)
          AND (p_after IS NULL OR p.id < (SELECT mf_cursor_bigint(p_after)))
        ORDER BY p.id DESC LIMIT p_limit + 1),
    numbered AS (SELECT id, doc, row_number() OVER (ORDER BY id DESC) rn FROM page)
    SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= p_limit), '[]'),
           CASE WHEN count(*) > p_limit THEN jsonb_build_array(max(id) FILTER (WHERE rn = p_limit)) END
    FROM numbered
$$;

CREATE FUNCTION mf_classification_item(c field_classifications) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'field', c.field_name, 'class', c.class, 'sensitivity', c.sensitivity, 'source', c.source,
        'status', c.status, 'may_be_anonymised', c.may_be_anonymised,
        'rule', (SELECT jsonb_build_object('id', r.id, 'name', r.name) FROM classification_rules r WHERE r.id = c.rule_id),
        'via', CASE WHEN c.source = 'inherited' THEN jsonb_build_object(
                   'dataset', (SELECT mf_ref(namespace, name) FROM datasets WHERE id = (c.via->>'dataset_id')::uuid),
                   'field', c.via->'field', 'transformation', c.via->'transformation', 'depth', c.depth,
                   'origin', jsonb_build_object(
                       'dataset', (SELECT mf_ref(namespace, name) FROM datasets
                                   WHERE id = (c.via->'origin'->>'dataset_id')::uuid),
                       'field', c.via->'origin'->'field'))
               ELSE c.via END,
        'note', c.note, 'decided_by', c.decided_by, 'decided_at', mf_ts(c.decided_at),
        'updated_at', mf_ts(c.updated_at))
$$;

CREATE FUNCTION mf_sensitivity_rank(p text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_position(ARRAY['public', 'internal', 'confidential', 'restricted'], p)
$$;

-- A visible dataset's classification: per field its classes, and the highest sensitivity not rejected.
CREATE FUNCTION mf_classification_doc(p_ns text, p_name text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH d AS (SELECT mf_dataset_id(p_ns, p_name) AS id),
    cls AS (SELECT c.field_name, c.sensitivity, c.status, mf_classification_item(c) - 'field' AS item
            FROM field_classifications c WHERE c.dataset_id = (SELECT id FROM d)),
    per_field AS (
        SELECT field_name,
               (array_agg(sensitivity ORDER BY mf_sensitivity_rank(sensitivity) DESC)
                    FILTER (WHERE status <> 'rejected'))[1] AS sensitivity,
               jsonb_agg(item ORDER BY item->>'class') AS classes
        FROM cls GROUP BY field_name)
    SELECT jsonb_build_object(
        'dataset', mf_ref(p_ns, p_name),
        'sensitivity', (SELECT sensitivity FROM per_field WHERE sensitivity IS NOT NULL
                        ORDER BY mf_sensitivity_rank(sensitivity) DESC LIMIT 1),
        'fields', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', field_name, 'sensitivity', sensitivity,
                                                                'classes', classes) ORDER BY field_name), '[]')
                   FROM per_field))
$$;

-- The cursor of the tenant-wide classification list: [dataset id, field, class] (NULL: the first page).
CREATE FUNCTION mf_classification_cursor(p jsonb, OUT dataset_id uuid, OUT field_name text, OUT class text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(p) = 'array' AND jsonb_array_length(p) = 3 AND (p->>0) ~ '^[0-9a-f-]{36}$'
       AND jsonb_typeof(p->1) = 'string' AND jsonb_typeof(p->2) = 'string' THEN
        dataset_id := (p->>0)::uuid;
        field_name := p->>1;
        class := p->>2;
        RETURN;
    END IF;
    PERFORM mf_raise('400', 'cursor is not valid; use next_cursor from a previous page');
END
$$;

-- One page of the classified fields the caller sees, filtered (NULL: any).
CREATE FUNCTION mf_classification_fields(p_limit integer, p_after jsonb, p_class text, p_sensitivity text,
                                         p_status text, p_source text, OUT items jsonb, OUT next_key jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_sensitivity NOT IN ('public', 'internal', 'confidential', 'restricted') THEN
        PERFORM mf_raise('400', 'sensitivity must be public, internal, confidential or restricted');
    ELSIF p_status NOT IN ('suggested', 'verified', 'rejected') THEN
        PERFORM mf_raise('400', 'status must be suggested, verified or rejected');
    ELSIF p_source NOT IN ('rule', 'value', 'inherited', 'person') THEN
        PERFORM mf_raise('400', 'source must be rule, value, inherited or person');
    END IF;
    WITH sel AS (
        SELECT c FROM field_classifications c
        WHERE c.tenant_id = mf_current_tenant()
          AND (p_class IS NULL OR c.class = p_class)
          AND (p_sensitivity IS NULL OR c.sensitivity = p_sensitivity)
          AND (p_status IS NULL OR c.status = p_status)
          AND (p_source IS NULL OR c.source = p_source)
          AND (p_after IS NULL OR (c.dataset_id, c.field_name, c.class) >
                                  (SELECT k.dataset_id, k.field_name, k.class FROM mf_classification_cursor(p_after) k))
        ORDER BY c.dataset_id, c.field_name, c.class LIMIT p_limit + 1),
    page AS (SELECT s.c, row_number() OVER (ORDER BY (s.c).dataset_id, (s.c).field_name, (s.c).class) rn FROM sel s)
    SELECT coalesce(jsonb_agg(jsonb_build_object('dataset', (SELECT mf_ref(d.namespace, d.name) FROM datasets d
                                                             WHERE d.id = (p.c).dataset_id))
                              || mf_classification_item(p.c) ORDER BY rn) FILTER (WHERE rn <= p_limit), '[]'),
           (SELECT jsonb_build_array((x.c).dataset_id, (x.c).field_name, (x.c).class) FROM page x
            WHERE x.rn = p_limit AND EXISTS (SELECT 1 FROM page y WHERE y.rn > p_limit))
    INTO items, next_key FROM page p;
END
$$;

-- ---------- a person's decision ----------

/*
 * Verify or reject class p_class on a field of a visible dataset the caller
 * may write (a field of its schema, or one with a classification). A class
 * nobody suggested is recorded with source "person" (p_sensitivity, or the
 * sensitivity the tenant's rules give the class, or confidential). Audited.
 */
CREATE FUNCTION mf_classification_decide(p_ns text, p_name text, p_field text, p_class text, p_status text,
                                         p_note text, p_sensitivity text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_ds uuid := mf_dataset_id(p_ns, p_name);
    v_before field_classifications;
    v_after field_classifications;
BEGIN
    PERFORM mf_access_check_dataset(v_ds);
    IF p_class !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$' OR length(p_class) > 64 THEN
        PERFORM mf_raise('400', 'class must be dotted lower-case words such as pii.email (at most 64 characters)');
    END IF;
    SELECT * INTO v_before FROM field_classifications
    WHERE dataset_id = v_ds AND field_name = p_field AND class = p_class FOR UPDATE;
    IF v_before.dataset_id IS NULL AND NOT EXISTS (SELECT 1 FROM fields WHERE dataset_id = v_ds AND name = p_field)
       AND NOT EXISTS (SELECT 1 FROM field_classifications WHERE dataset_id = v_ds AND field_name = p_field) THEN
        PERFORM mf_raise('404', format('dataset %s/%s has no field %s', p_ns, p_name, p_field));
    END IF;
    INSERT INTO field_classifications AS c (tenant_id, dataset_id, field_name, class, sensitivity, source, status, note,
                                            decided_by, decided_at)
    VALUES (mf_current_tenant(), v_ds, p_field, p_class,
            coalesce(p_sensitivity, (SELECT r.sensitivity FROM classification_rules r WHERE r.class = p_class
                                     ORDER BY mf_sensitivity_rank(r.sensitivity) DESC LIMIT 1), 'confidential'),
            'person', p_status, coalesce(p_note, ''), coalesce(current_setting('mf.actor', true), ''), now())
    ON CONFLICT (dataset_id, field_name, class) DO UPDATE SET
        status = EXCLUDED.status, note = EXCLUDED.note, decided_by = EXCLUDED.decided_by, decided_at = now(),
        sensitivity = coalesce(p_sensitivity, c.sensitivity), updated_at = now()
    RETURNING * INTO v_after;
    INSERT INTO audit_log (tenant_id, actor, action, target, request_id, client_addr, before, after)
    VALUES (mf_current_tenant(), coalesce(current_setting('mf.actor', true), ''),
            'classification.' || CASE p_status WHEN 'verified' THEN 'verify' ELSE 'reject' END,
            p_ns || '/' || p_name || '.' || p_field,
            coalesce(current_setting('mf.request_id', true), ''), coalesce(current_setting('mf.client_addr', true), ''),
            CASE WHEN v_before.dataset_id IS NOT NULL THEN mf_classification_item(v_before) END,
            mf_classification_item(v_after));
    RETURN mf_classification_item(v_after);
END
$$;

-- ---------- rule administration ----------

CREATE FUNCTION mf_classification_rule_doc(r classification_rules) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'name', r.name, 'builtin', r.builtin, 'kind', r.kind, 'pattern', r.pattern,
        'validator', r.validator, 'class', r.class, 'sensitivity', r.sensitivity, 'threshold', r.threshold,
        'enabled', r.enabled, 'description', r.description,
        'created_at', mf_ts(r.created_at), 'updated_at', mf_ts(r.updated_at))
$$;

-- Rules are the whole tenant's: a scoped credential may read them, not change them.
CREATE FUNCTION mf_classification_rule_writer() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT mf_access_unscoped() THEN
        PERFORM mf_raise('403', 'classification rules apply to the whole tenant: a scoped credential cannot change them');
    END IF;
END
$$;

-- Check a rule (as it would be stored) and say what is wrong with a 400.
CREATE FUNCTION mf_classification_rule_check(r classification_rules) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF r.name !~ '^[a-z0-9][a-z0-9_.-]{0,63}$' THEN
        PERFORM mf_raise('400', 'name must be 1-64 lower-case letters, digits, ".", "_" or "-"');
    END IF;
    IF r.kind NOT IN ('name', 'value') THEN
        PERFORM mf_raise('400', 'kind must be name or value');
    END IF;
    IF r.class !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$' OR length(r.class) > 64 THEN
        PERFORM mf_raise('400', 'class must be dotted lower-case words such as pii.email (at most 64 characters)');
    END IF;
    IF r.sensitivity NOT IN ('public', 'internal', 'confidential', 'restricted') THEN
        PERFORM mf_raise('400', 'sensitivity must be public, internal, confidential or restricted');
    END IF;
    IF r.kind = 'name' AND (r.validator IS NOT NULL OR r.threshold IS NOT NULL) THEN
        PERFORM mf_raise('400', 'validator and threshold apply to value rules only');
    END IF;
    IF r.kind = 'value' AND (r.threshold IS NULL OR r.threshold <= 0 OR r.threshold > 1) THEN
        PERFORM mf_raise('400', 'threshold must be a share of the samples greater than 0 and at most 1');
    END IF;
    IF r.validator IS NOT NULL AND r.validator NOT IN ('luhn', 'us_ssn', 'ipv6', 'phone') THEN
        PERFORM mf_raise('400', 'validator must be luhn, us_ssn, ipv6 or phone');
    END IF;
    BEGIN
        PERFORM '' ~ r.pattern;
    EXCEPTION WHEN invalid_regular_expression THEN
        PERFORM mf_raise('400', format('pattern is not a valid regular expression: %s', SQLERRM));
    END;
END
$$;

/*
 * Create (p_id NULL) or change a rule: p is the request body (members absent
 * keep the current value on a change; value rules default to threshold 0.8).
 * Re-evaluates the tenant. Returns the rule document.
 */
CREATE FUNCTION mf_classification_rule_put(p_id uuid, p jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r classification_rules;
    v_old classification_rules;
BEGIN
    PERFORM mf_classification_rule_writer();
    IF p_id IS NULL THEN
        r.id := gen_random_uuid();
        r.tenant_id := mf_current_tenant();
        r.builtin := false;
        r.enabled := true;
        r.description := '';
        r.created_at := now();
    ELSE
        SELECT * INTO v_old FROM classification_rules WHERE tenant_id = mf_current_tenant() AND id = p_id FOR UPDATE;
        IF NOT FOUND THEN
            PERFORM mf_raise('404', 'classification rule not found');
        END IF;
        r := v_old;
        IF v_old.builtin AND p ? 'name' AND p->>'name' <> v_old.name THEN
            PERFORM mf_raise('400', 'a built-in rule keeps its name');
        END IF;
    END IF;
    r.name := coalesce(p->>'name', r.name);
    r.kind := coalesce(p->>'kind', r.kind);
    r.pattern := coalesce(p->>'pattern', r.pattern);
    r.validator := CASE WHEN p ? 'validator' THEN p->>'validator' ELSE r.validator END;
    r.class := coalesce(p->>'class', r.class);
    r.sensitivity := coalesce(p->>'sensitivity', r.sensitivity);
    r.threshold := CASE WHEN p ? 'threshold' THEN (p->>'threshold')::numeric
                        WHEN r.kind = 'value' THEN coalesce(r.threshold, 0.8) END;
    r.enabled := coalesce((p->>'enabled')::boolean, r.enabled);
    r.description := coalesce(p->>'description', r.description);
    r.updated_at := now();
    PERFORM mf_classification_rule_check(r);
    IF p_id IS NULL THEN
        INSERT INTO classification_rules VALUES (r.*);
    ELSE
        UPDATE classification_rules SET name = r.name, kind = r.kind, pattern = r.pattern, validator = r.validator,
            class = r.class, sensitivity = r.sensitivity, threshold = r.threshold, enabled = r.enabled,
            description = r.description, updated_at = r.updated_at
        WHERE id = p_id;
        -- a value rule that now matches differently cannot re-read the samples: its conclusions go
        IF (r.kind, r.pattern, r.validator) IS DISTINCT FROM (v_old.kind, v_old.pattern, v_old.validator) THEN
            DELETE FROM classification_findings WHERE rule_id = p_id;
        END IF;
    END IF;
    PERFORM mf_classify_direct(mf_current_tenant(), NULL);
    RETURN mf_classification_rule_doc(r);
EXCEPTION WHEN unique_violation THEN
    PERFORM mf_raise('409', format('a classification rule named "%s" exists', r.name));
    RETURN NULL;
END
$$;

-- Delete a tenant's own rule (built-in ones are disabled instead); re-evaluates the tenant.
CREATE FUNCTION mf_classification_rule_delete(p_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE r classification_rules;
BEGIN
    PERFORM mf_classification_rule_writer();
    SELECT * INTO r FROM classification_rules WHERE tenant_id = mf_current_tenant() AND id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM mf_raise('404', 'classification rule not found');
    END IF;
    IF r.builtin THEN
        PERFORM mf_raise('409', format('"%s" is a built-in rule: disable it with {"enabled": false}', r.name));
    END IF;
    DELETE FROM classification_rules WHERE id = p_id;
    PERFORM mf_classify_direct(mf_current_tenant(), NULL);
END
$$;

-- One page of the tenant's rules by name.
CREATE FUNCTION mf_classification_rules(p_limit integer, p_after jsonb, p_kind text, OUT items jsonb, OUT next_key jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_after IS NOT NULL AND (jsonb_typeof(p_after) <> 'array' OR jsonb_typeof(p_after->0) IS DISTINCT FROM 'string') THEN
        PERFORM mf_raise('400', 'cursor is not valid; use next_cursor from a previous page');
    ELSIF p_kind NOT IN ('name', 'value') THEN
        PERFORM mf_raise('400', 'kind must be name or value');
    END IF;
    WITH sel AS (
        SELECT r FROM classification_rules r
        WHERE r.tenant_id = mf_current_tenant() AND (p_kind IS NULL OR r.kind = p_kind)
          AND (p_after IS NULL OR r.name > p_after->>0)
        ORDER BY r.name LIMIT p_limit + 1),
    page AS (SELECT s.r, row_number() OVER (ORDER BY (s.r).name) rn FROM sel s)
    SELECT coalesce(jsonb_agg(mf_classification_rule_doc(p.r) ORDER BY rn) FILTER (WHERE rn <= p_limit), '[]'),
           CASE WHEN count(*) > p_limit THEN jsonb_build_array(max((p.r).name) FILTER (WHERE rn = p_limit)) END
    INTO items, next_key FROM page p;
END
$$;
