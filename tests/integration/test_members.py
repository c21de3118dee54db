"""A tenant's people: members and their roles, domain and dataset grants,
invitations (accepted on first sign-in), and what each change does to the
member's sessions and keys. Members and sessions come from people.py (rows
written as the table owner); the first sign-in of an invited person runs the
real mf_login_complete."""

import datetime
import hashlib
import secrets
import time
import uuid

import pytest

from conftest import UUID_RE, Api, poll_status, assert_error, assert_list_page, assert_ts, psql, unique
from people import People, Person, sql_str

MEMBER_KEYS = {"user", "role", "created_at", "last_login_at", "grants"}
INVITATION_KEYS = {"id", "email", "role", "status", "created_at", "created_by", "expires_at",
                   "accepted_at"}


@pytest.fixture(scope="session")
def people(migrated):
    return People(migrated["MF_PG_ADMIN_URL"])


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % (dt.microsecond // 1000)


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def members_of(api):
    return {m["user"]["id"]: m for m in api.walk("/api/v1/members")}


def check_member(doc, person, role):
    assert set(doc.keys()) >= MEMBER_KEYS, doc
    assert doc["user"] == {"id": person.id, "email": person.email, "name": "Test Person"}, doc
    assert doc["role"] == role, doc
    assert_ts(doc["created_at"])
    assert isinstance(doc["grants"], list), doc


def audit_actions(api, action):
    return [r for r in api.walk("/api/v1/audit", params={"action": action})]


@pytest.fixture
def world(tenant):
    api = tenant.api
    for d in ("sales", "hr"):
        api.ok("POST", "/api/v1/domains", 201, json_body={"name": d})
    api.create_dataset("orders", domain="sales")
    api.create_dataset("users", namespace="crm")
    return tenant


# ---------------------------------------------------------------- members


def test_members_list_and_get(tenant, people):
    made = [people.add(tenant, role) for role in ("admin", "editor", "viewer", "viewer", "editor")]
    listed = members_of(tenant.api)
    assert set(listed) == {p.id for p in made}
    for p in made:
        check_member(listed[p.id], p, p.role)
        assert listed[p.id]["grants"] == [] and listed[p.id]["last_login_at"] is None
        got = tenant.api.ok("GET", "/api/v1/members/" + p.id, 200).json()
        assert got == listed[p.id]
    # pages in order of joining, each once
    paged = tenant.api.walk("/api/v1/members", limit=2)
    assert [m["user"]["id"] for m in paged] == [p.id for p in made]
    page = assert_list_page(tenant.api.get("/api/v1/members", params={"limit": "2"}).json())
    for bad in ("x", page["next_cursor"][:-2], "WyJ4IiwieSJd"):
        assert_error(tenant.api.get("/api/v1/members", params={"cursor": bad}), 400, "invalid_request")
    # an admin member manages members too
    assert set(members_of(made[0].api)) == set(listed)
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        assert_error(tenant.api.get("/api/v1/members/" + bad), 404, "not_found")


def test_only_admins_manage_people(world, people):
    t = world
    target = people.add(t, "viewer")
    callers = [people.add(t, "editor").api, people.add(t, "viewer").api, t.client("editor"),
               t.client("viewer")]
    granted = people.add(t, "viewer")  # an editor on a domain is still no admin
    people.grant(t, granted.id, "editor", domain="sales")
    callers.append(granted.api)
    calls = [
        ("GET", "/api/v1/members", None),
        ("GET", "/api/v1/members/" + target.id, None),
        ("PUT", "/api/v1/members/" + target.id, {"role": "admin"}),
        ("DELETE", "/api/v1/members/" + target.id, None),
        ("POST", "/api/v1/members/%s/grants" % target.id, {"role": "editor", "domain": "sales"}),
        ("DELETE", "/api/v1/members/%s/grants/%s" % (target.id, uuid.uuid4()), None),
        ("POST", "/api/v1/invitations", {"email": "x@example.com", "role": "admin"}),
        ("GET", "/api/v1/invitations", None),
        ("DELETE", "/api/v1/invitations/" + str(uuid.uuid4()), None),
    ]
    for api in callers:
        for method, path, body in calls:
            r = api.req(method, path, json_body=body) if body is not None else api.req(method, path)
            assert_error(r, 403, "forbidden")
    assert members_of(t.api)[target.id]["role"] == "viewer"
    assert t.api.walk("/api/v1/invitations") == []


def test_change_role(tenant, people):
    alice = people.add(tenant, "viewer")
    r = tenant.api.put("/api/v1/members/" + alice.id, {"role": "editor"})
    assert r.status_code == 200, r.text
    check_member(r.json(), alice, "editor")
    assert members_of(tenant.api)[alice.id]["role"] == "editor"
    # the session has the new role at once
    me = alice.api.ok("GET", "/api/v1/me", 200).json()
    assert me["role"] == "editor" and me["write_anywhere"] is True
    alice.api.create_dataset("by-alice")
    # the same role again is no change
    assert tenant.api.put("/api/v1/members/" + alice.id, {"role": "editor"}).json()["role"] == "editor"
    rows = [a for a in audit_actions(tenant.api, "member.update") if a["after"]["user_id"] == alice.id]
    assert len(rows) == 1 and rows[0]["before"]["role"] == "viewer" and rows[0]["after"]["role"] == "editor"
    assert rows[0]["actor"].startswith("key:")
    # bad input
    for body, needle in (({}, "role"), ({"role": "owner"}, "role"), ({"role": 1}, "role"),
                         ({"role": None}, "role"), ({"role": "viewer", "email": "x@y.z"}, "email"),
                         ({"role": "platform_admin"}, "role")):
        assert_error(tenant.api.put("/api/v1/members/" + alice.id, body), 400, "invalid_request", needle)
    for data in (b"{", b"[]", b"null", b'{"role":"viewer","role":"admin"}'):
        assert_error(tenant.api.req("PUT", "/api/v1/members/" + alice.id, data=data), 400, "invalid_json")
    for bad in (str(uuid.uuid4()), "nope"):
        assert_error(tenant.api.put("/api/v1/members/" + bad, {"role": "viewer"}), 404, "not_found")
    assert members_of(tenant.api)[alice.id]["role"] == "editor"


def test_last_admin_member_is_kept(tenant, people):
    first = people.add(tenant, "admin")
    # the only admin member: neither demoted nor removed, by anyone
    for api in (tenant.api, first.api):
        assert_error(api.put("/api/v1/members/" + first.id, {"role": "editor"}), 409, "conflict",
                     "last admin")
        assert_error(api.delete("/api/v1/members/" + first.id), 409, "conflict", "last admin")
    second = people.add(tenant, "editor")
    first.api.ok("PUT", "/api/v1/members/" + second.id, 200, json_body={"role": "admin"})
    # now the first may step down (with their own session) ...
    first.api.ok("PUT", "/api/v1/members/" + first.id, 200, json_body={"role": "viewer"})
    assert_error(poll_status(first.api, "GET", "/api/v1/members", 403, 4.0), 403, "forbidden")
    # ... and the second is the last one
    assert_error(second.api.delete("/api/v1/members/" + second.id), 409, "conflict")
    assert_error(tenant.api.put("/api/v1/members/" + second.id, {"role": "viewer"}), 409, "conflict")
    second.api.ok("DELETE", "/api/v1/members/" + first.id, 204)
    assert set(members_of(tenant.api)) == {second.id}
    assert members_of(tenant.api)[second.id]["role"] == "admin"


def test_remove_member(world, people):
    t = world
    alice = people.add(t, "editor")
    people.session(t, alice.id)  # a second session
    grant = t.api.ok("POST", "/api/v1/members/%s/grants" % alice.id, 201,
                     json_body={"role": "editor", "domain": "sales"}).json()
    key = Api(t.base, alice.make_key("editor")["key"])
    key.ok("GET", "/api/v1/datasets", 200)
    alice.api.ok("GET", "/api/v1/datasets", 200)
    r = t.api.delete("/api/v1/members/" + alice.id)
    assert r.status_code == 204, r.text
    assert r.content == b""
    for c in (alice.api, key):
        assert_error(poll_status(c, "GET", "/api/v1/datasets", 401, 4.0), 401, "unauthorized")
    rows = psql(people.url, "SELECT (SELECT count(*) FROM sessions WHERE user_id = %s), "
                            "(SELECT count(*) FROM role_grants WHERE user_id = %s), "
                            "(SELECT count(*) FROM api_keys WHERE user_id = %s AND revoked_at IS NULL), "
                            "(SELECT count(*) FROM users WHERE id = %s)"
                % ((sql_str(alice.id),) * 4))[1]
    assert rows == ["0|0|0|1"], rows  # the person stays (they may belong to other tenants)
    assert alice.id not in members_of(t.api)
    assert_error(t.api.get("/api/v1/members/" + alice.id), 404, "not_found")
    assert_error(t.api.delete("/api/v1/members/" + alice.id), 404, "not_found")
    assert_error(t.api.delete("/api/v1/members/%s/grants/%s" % (alice.id, grant["id"])), 404, "not_found")
    assert [a for a in audit_actions(t.api, "member.delete") if a["before"]["user_id"] == alice.id]


def test_member_of_two_tenants(tenant_factory, people):
    a, b = tenant_factory(), tenant_factory()
    in_a = people.add(a, "editor")
    in_b = people.add(b, "viewer", email=in_a.email)
    assert in_a.id == in_b.id
    a.api.ok("DELETE", "/api/v1/members/" + in_a.id, 204)
    # still a member of B, with B's role
    assert members_of(b.api)[in_b.id]["role"] == "viewer"
    assert in_b.api.get("/api/v1/me").json()["role"] == "viewer"
    assert_error(poll_status(in_a.api, "GET", "/api/v1/me", 401, 4.0), 401, "unauthorized")


# ---------------------------------------------------------------- grants


def test_grants(world, people):
    t = world
    alice = people.add(t, "viewer")
    base = "/api/v1/members/%s/grants" % alice.id
    r = t.api.post(base, {"role": "editor", "domain": "sales"})
    assert r.status_code == 201, r.text
    g1 = r.json()
    assert UUID_RE.match(g1["id"]) and g1["role"] == "editor" and g1["domain"] == "sales", g1
    assert "dataset" not in g1
    assert_ts(g1["created_at"])
    g2 = t.api.ok("POST", base, 201, json_body={"role": "viewer",
                                               "dataset": {"namespace": "crm", "name": "users"}}).json()
    assert g2["dataset"] == {"namespace": "crm", "name": "users"} and "domain" not in g2
    g3 = t.api.ok("POST", base, 201, json_body={"role": "editor", "dataset": {"name": "orders"}}).json()
    assert g3["dataset"] == {"namespace": "default", "name": "orders"}
    doc = members_of(t.api)[alice.id]
    assert [g["id"] for g in doc["grants"]] == [g1["id"], g2["id"], g3["id"]]
    assert doc["grants"][0] == g1
    # the person's session uses the best grant as its highest role
    me = alice.api.ok("GET", "/api/v1/me", 200).json()
    assert me["role"] == "editor" and me["write_anywhere"] is False
    assert {g["domain"] for g in me["grants"] if g.get("domain")} == {"sales"}
    # one grant per domain or dataset
    assert_error(t.api.post(base, {"role": "viewer", "domain": "sales"}), 409, "conflict", "sales")
    assert_error(t.api.post(base, {"role": "editor", "dataset": {"namespace": "crm", "name": "users"}}),
                 409, "conflict", "crm/users")
    # bad input
    for body, needle in (
            ({"role": "admin", "domain": "hr"}, "viewer or editor"),
            ({"role": "owner", "domain": "hr"}, "role"),
            ({"domain": "hr"}, "role"),
            ({"role": 1, "domain": "hr"}, "role"),
            ({"role": "viewer"}, "exactly one"),
            ({"role": "viewer", "domain": "hr", "dataset": {"name": "orders"}}, "exactly one"),
            ({"role": "viewer", "domain": None}, "domain"),
            ({"role": "viewer", "domain": 5}, "domain"),
            ({"role": "viewer", "domain": ""}, "domain"),
            ({"role": "viewer", "dataset": "orders"}, "dataset"),
            ({"role": "viewer", "dataset": {"namespace": "default"}}, "dataset.name"),
            ({"role": "viewer", "dataset": {"name": "orders", "x": 1}}, '"x"'),
            ({"role": "viewer", "domain": "nope"}, 'no domain named "nope"'),
            ({"role": "viewer", "dataset": {"name": "nope"}}, "default/nope"),
            ({"role": "viewer", "domain": "hr", "user": alice.id}, '"user"')):
        assert_error(t.api.post(base, body), 400, "invalid_request", needle)
    for data in (b'{"role": ', b"[1]", b"7"):
        assert_error(t.api.req("POST", base, data=data), 400, "invalid_json")
    assert len(members_of(t.api)[alice.id]["grants"]) == 3
    # unknown members
    for bad in (str(uuid.uuid4()), "nope"):
        assert_error(t.api.post("/api/v1/members/%s/grants" % bad, {"role": "viewer", "domain": "hr"}),
                     404, "not_found")
    # remove
    r = t.api.delete("%s/%s" % (base, g1["id"]))
    assert r.status_code == 204, r.text
    assert_error(t.api.delete("%s/%s" % (base, g1["id"])), 404, "not_found")
    assert_error(t.api.delete("%s/%s" % (base, "nope")), 404, "not_found")
    assert_error(t.api.delete("%s/%s" % (base, uuid.uuid4())), 404, "not_found")
    assert [g["id"] for g in members_of(t.api)[alice.id]["grants"]] == [g2["id"], g3["id"]]
    t.api.ok("DELETE", "%s/%s" % (base, g3["id"]), 204)
    assert alice.api.get("/api/v1/me").json()["role"] == "viewer"
    # a grant is addressed through its member only
    bob = people.add(t, "viewer")
    assert_error(t.api.delete("/api/v1/members/%s/grants/%s" % (bob.id, g2["id"])), 404, "not_found")
    assert len(members_of(t.api)[alice.id]["grants"]) == 1
    # audit
    assert len([a for a in audit_actions(t.api, "grant.create") if a["after"]["user_id"] == alice.id]) == 3
    assert len([a for a in audit_actions(t.api, "grant.delete") if a["before"]["user_id"] == alice.id]) == 2


def test_grant_goes_with_its_domain(world, people):
    t = world
    alice = people.add(t, "viewer")
    t.api.ok("POST", "/api/v1/members/%s/grants" % alice.id, 201, json_body={"role": "editor", "domain": "hr"})
    t.api.ok("DELETE", "/api/v1/domains/hr", 204)
    assert members_of(t.api)[alice.id]["grants"] == []


# ---------------------------------------------------------------- invitations


def test_invitations(tenant, people):
    r = tenant.api.post("/api/v1/invitations", {"email": "  Ada.Lovelace@Example.COM ".strip(),
                                                "role": "editor"})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert set(inv.keys()) >= INVITATION_KEYS, inv
    assert UUID_RE.match(inv["id"])
    assert (inv["email"], inv["role"], inv["status"], inv["accepted_at"]) == \
        ("ada.lovelace@example.com", "editor", "pending", None)
    assert inv["created_by"].startswith("key:")
    days = (parse_ts(inv["expires_at"]) - parse_ts(inv["created_at"])).total_seconds() / 86400
    assert abs(days - 7) < 0.01, inv
    exp = now() + datetime.timedelta(days=2)
    inv2 = tenant.api.ok("POST", "/api/v1/invitations", 201,
                         json_body={"email": "grace@example.com", "role": "admin",
                                    "expires_at": rfc3339(exp)}).json()
    assert abs((parse_ts(inv2["expires_at"]) - exp).total_seconds()) < 1
    listed = tenant.api.walk("/api/v1/invitations", limit=1)
    assert [i["id"] for i in listed] == [inv["id"], inv2["id"]]
    assert listed[0] == inv
    # a pending invitation is not made twice (in any letter case)
    assert_error(tenant.api.post("/api/v1/invitations", {"email": "ADA.lovelace@example.com",
                                                         "role": "viewer"}), 409, "conflict", "pending")
    # nor one for a member
    member = people.add(tenant, "viewer")
    assert_error(tenant.api.post("/api/v1/invitations", {"email": member.email.upper(), "role": "admin"}),
                 409, "conflict", "already a member")
    # withdraw; then it may be sent again
    r = tenant.api.delete("/api/v1/invitations/" + inv["id"])
    assert r.status_code == 204, r.text
    assert_error(tenant.api.delete("/api/v1/invitations/" + inv["id"]), 404, "not_found")
    assert_error(tenant.api.delete("/api/v1/invitations/nope"), 404, "not_found")
    assert [i["id"] for i in tenant.api.walk("/api/v1/invitations")] == [inv2["id"]]
    again = tenant.api.ok("POST", "/api/v1/invitations", 201,
                          json_body={"email": "ada.lovelace@example.com", "role": "viewer"}).json()
    assert again["id"] != inv["id"]
    # an expired invitation is replaced by a new one
    psql(people.url, "UPDATE invitations SET expires_at = now() - interval '1 minute', "
                     "created_at = now() - interval '8 days' WHERE id = '%s'" % again["id"])
    listed = {i["id"]: i for i in tenant.api.walk("/api/v1/invitations")}
    assert listed[again["id"]]["status"] == "expired"
    renewed = tenant.api.ok("POST", "/api/v1/invitations", 201,
                            json_body={"email": "ada.lovelace@example.com", "role": "editor"}).json()
    assert renewed["status"] == "pending"
    assert again["id"] not in {i["id"] for i in tenant.api.walk("/api/v1/invitations")}
    # audit
    created = audit_actions(tenant.api, "invitation.create")
    assert len(created) == 4 and {a["target"] for a in created} == {"ada.lovelace@example.com",
                                                                      "grace@example.com"}


def test_invitation_bad_input(tenant, people):
    admin = people.add(tenant, "admin")
    cases = [
        ({"role": "viewer"}, "email"),
        ({"email": "a@b.example"}, "role"),
        ({"email": 1, "role": "viewer"}, "email"),
        ({"email": "not-an-address", "role": "viewer"}, "email"),
        ({"email": "two@at@example.com", "role": "viewer"}, "email"),
        ({"email": "no-dot@example", "role": "viewer"}, "email"),
        ({"email": "spa ce@example.com", "role": "viewer"}, "email"),
        ({"email": "a\n@example.com", "role": "viewer"}, "email"),
        ({"email": "x" * 320 + "@example.com", "role": "viewer"}, "email"),
        ({"email": "a@b.example", "role": "owner"}, "role"),
        ({"email": "a@b.example", "role": ["admin"]}, "role"),
        ({"email": "a@b.example", "role": "viewer", "expires_at": "soon"}, "expires_at"),
        ({"email": "a@b.example", "role": "viewer", "expires_at": 3}, "expires_at"),
        ({"email": "a@b.example", "role": "viewer",
          "expires_at": rfc3339(now() - datetime.timedelta(seconds=5))}, "expires_at"),
        ({"email": "a@b.example", "role": "viewer", "name": "A"}, '"name"'),
    ]
    for api in (tenant.api, admin.api):
        for body, needle in cases:
            assert_error(api.post("/api/v1/invitations", body), 400, "invalid_request", needle)
        for data in (b'{"email": "a@b.example",', b"[]", b'"x"'):
            assert_error(api.req("POST", "/api/v1/invitations", data=data), 400, "invalid_json")
    assert tenant.api.walk("/api/v1/invitations") == []


def login_complete(people, tenant, email, verified=True):
    """The database half of /auth/callback after the ID token was verified: provision and open a session."""
    token = "mfs_" + secrets.token_hex(32)
    digest = hashlib.sha256(token.encode("ascii")).hexdigest()
    rows = psql(people.url, "SELECT coalesce(user_id::text, ''), coalesce(role, ''), coalesce(denied, '') "
                            "FROM mf_login_complete(%s, %s, %s, 'Invited Person', %s, 'csrf', 3600, 'test')"
                % (sql_str(tenant.id), sql_str(email), "true" if verified else "false", sql_str(digest)))[1]
    user_id, role, denied = rows[0].split("|")
    return token, user_id, role, denied


def test_invitation_accepted_on_first_sign_in(tenant, people):
    email = "%s@invited.example" % unique("p")
    inv = tenant.api.ok("POST", "/api/v1/invitations", 201,
                        json_body={"email": email.upper(), "role": "editor"}).json()
    # someone not invited is refused
    _, _, _, denied = login_complete(people, tenant, "%s@invited.example" % unique("q"))
    assert "not invited" in denied
    token, user_id, role, denied = login_complete(people, tenant, email)
    assert (role, denied) == ("editor", "")
    listed = {i["id"]: i for i in tenant.api.walk("/api/v1/invitations")}
    assert listed[inv["id"]]["status"] == "accepted"
    assert_ts(listed[inv["id"]]["accepted_at"])
    m = members_of(tenant.api)[user_id]
    assert m["user"] == {"id": user_id, "email": email, "name": "Invited Person"}
    assert m["role"] == "editor" and m["created_by"] == "sso"
    assert_ts(m["last_login_at"])
    person = Person(tenant, user_id, email, "editor", token)
    person.api.create_dataset("by-invited")
    # accepted: a new invitation is refused because they are a member now
    assert_error(tenant.api.post("/api/v1/invitations", {"email": email, "role": "admin"}), 409, "conflict")


# ---------------------------------------------------------------- other tenants


def test_other_tenants_people(tenant_factory, people):
    a, b = tenant_factory(), tenant_factory()
    a.api.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    alice = people.add(a, "editor")
    grant = a.api.ok("POST", "/api/v1/members/%s/grants" % alice.id, 201,
                     json_body={"role": "editor", "domain": "sales"}).json()
    inv = a.api.ok("POST", "/api/v1/invitations", 201,
                   json_body={"email": "someone@a.example", "role": "viewer"}).json()
    b_admin = people.add(b, "admin")
    b.api.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    for api in (b.api, b_admin.api):
        assert set(members_of(api)) == {b_admin.id}
        assert api.walk("/api/v1/invitations") == []
        assert_error(api.get("/api/v1/members/" + alice.id), 404, "not_found")
        assert_error(api.put("/api/v1/members/" + alice.id, {"role": "viewer"}), 404, "not_found")
        assert_error(api.delete("/api/v1/members/" + alice.id), 404, "not_found")
        assert_error(api.post("/api/v1/members/%s/grants" % alice.id, {"role": "viewer", "domain": "sales"}),
                     404, "not_found")
        assert_error(api.delete("/api/v1/members/%s/grants/%s" % (alice.id, grant["id"])), 404, "not_found")
        assert_error(api.delete("/api/v1/members/%s/grants/%s" % (b_admin.id, grant["id"])), 404,
                     "not_found")
        assert_error(api.delete("/api/v1/invitations/" + inv["id"]), 404, "not_found")
        # the same address may be invited to B separately
    b.api.ok("POST", "/api/v1/invitations", 201, json_body={"email": "someone@a.example", "role": "admin"})
    # A is untouched
    m = members_of(a.api)[alice.id]
    assert m["role"] == "editor" and [g["id"] for g in m["grants"]] == [grant["id"]]
    assert [i["id"] for i in a.api.walk("/api/v1/invitations")] == [inv["id"]]
    # B's session cannot read A's catalog through a guessed id either
    assert b_admin.api.get("/api/v1/me").json()["tenant"]["id"] == b.id
