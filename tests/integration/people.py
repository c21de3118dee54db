"""People for the members and API-key tests: users, memberships and sessions
written straight into Postgres as the table owner (``MF_PG_ADMIN_URL``), so a
test needs no identity provider. A session made here is a real one as far as
mf-api is concerned: ``Authorization: Bearer mfs_<64 hex>`` whose SHA-256 is in
``sessions.token_hash`` (the same row a sign-in through /auth/callback writes).
"""

import hashlib
import secrets

from conftest import Api, psql, unique


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


class Person:
    """A member of a tenant with a session: ``api`` calls mf-api as that person."""

    def __init__(self, tenant, user_id, email, role, token):
        self.tenant = tenant
        self.id = user_id
        self.email = email
        self.role = role
        self.token = token
        self.api = Api(tenant.base, token)

    def make_key(self, role, status=201, **extra):
        """POST /api/v1/api-keys as this person; returns the answer's document."""
        body = {"name": unique("pk-" + role), "role": role}
        body.update(extra)
        return self.api.ok("POST", "/api/v1/api-keys", status, json_body=body).json()

    def key_client(self, role, **extra):
        return Api(self.tenant.base, self.make_key(role, **extra)["key"])


class People:
    """Factory bound to the owner's database URL (the ``people`` fixture)."""

    def __init__(self, owner_url):
        self.url = owner_url

    def sql(self, *statements):
        return psql(self.url, *statements)[1]

    def add(self, tenant, role, email=None, name="Test Person", session=True):
        """A new member of tenant with role (a user created or reused by email) and a session."""
        email = email or "%s@people.example" % unique("u")
        rows = self.sql(
            "WITH u AS (INSERT INTO users (email, name) VALUES (%s, %s) "
            "ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id) "
            "INSERT INTO memberships (tenant_id, user_id, role, created_by) "
            "SELECT %s, u.id, %s, 'test' FROM u RETURNING user_id"
            % (sql_str(email), sql_str(name), sql_str(tenant.id), sql_str(role)))
        user_id = rows[0]
        token = self.session(tenant, user_id) if session else None
        return Person(tenant, user_id, email, role, token)

    def session(self, tenant, user_id):
        token = "mfs_" + secrets.token_hex(32)
        digest = hashlib.sha256(token.encode("ascii")).hexdigest()
        self.sql("INSERT INTO sessions (token_hash, tenant_id, user_id, csrf_token, expires_at) "
                 "VALUES (%s, %s, %s, 'csrf-not-used-with-bearer', now() + interval '1 day')"
                 % (sql_str(digest), sql_str(tenant.id), sql_str(user_id)))
        return token

    def grant(self, tenant, user_id, role, domain=None, dataset=None, namespace="default"):
        """A role grant written directly (the API's own route is tested in test_members)."""
        if domain is not None:
            target = "domain_id) SELECT %s, %s, %s, d.id FROM domains d WHERE d.tenant_id = %s AND d.name = %s" % (
                sql_str(tenant.id), sql_str(user_id), sql_str(role), sql_str(tenant.id), sql_str(domain))
        else:
            target = ("dataset_id) SELECT %s, %s, %s, d.id FROM datasets d WHERE d.tenant_id = %s "
                      "AND d.namespace = %s AND d.name = %s") % (
                sql_str(tenant.id), sql_str(user_id), sql_str(role), sql_str(tenant.id),
                sql_str(namespace), sql_str(dataset))
        return self.sql("INSERT INTO role_grants (tenant_id, user_id, role, " + target + " RETURNING id")[0]
