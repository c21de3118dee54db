"""Single sign-on end to end, sessions, CSRF, and the forged-token suite.

Two real OpenID providers take part:
  * the development provider (tools/oidc-dev, npm oidc-provider 8) from the
    ``oidc_provider`` fixture: the platform's default provider of the mf-api
    started here. People sign in through its own login form, over HTTP as a
    browser would (``oidc.browser_login``) and in headless Chromium.
  * ``RogueProvider`` below: a small provider under the test's control
    (discovery, JWKS, an authorize endpoint that signs in at once, a token
    endpoint that returns whatever ID token the test made). A tenant points
    its own sign-in settings at it, and every forged token is refused with 401
    and a ``login.failed`` audit row, while the same flow with a correctly
    signed token succeeds (so each refusal is the forgery's doing).
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import oidc
from conftest import REPO, Api, Server, assert_error, lift_limits, psql, redis_cli, unique

ADMIN_EMAIL = "admin@sso-a.example"
USER_EMAIL = "user@sso-b.example"


# --------------------------------------------------------------------------
# fixtures


class SsoEnv:
    def __init__(self, server, provider, admin):
        self.server = server
        self.base = server.base
        self.provider = provider
        self.admin = admin  # platform admin client
        self.pg_owner = server.env["MF_PG_ADMIN_URL"]

    def new_tenant(self, allowed_domains=None, invite=None, sso=None):
        """A fresh tenant; optional sign-in settings and invitations {email: role}."""
        r = self.admin.ok("POST", "/api/v1/admin/tenants", 201, json_body={"name": unique("sso")})
        body = r.json()
        lift_limits(self.admin, body["tenant"]["id"])
        api = Api(self.base, body["api_key"])
        settings = dict(sso or {})
        if allowed_domains is not None:
            settings["allowed_domains"] = allowed_domains
        if settings:
            api.ok("PUT", "/api/v1/sso", 200, json_body=settings)
        for email, role in (invite or {}).items():
            psql(self.pg_owner, "INSERT INTO invitations (tenant_id, email, role, expires_at) "
                                "VALUES ('%s', '%s', '%s', now() + interval '1 day')" % (body["tenant"]["id"], email, role))
        return body["tenant"], api

    def login_url(self, tenant, return_to=None):
        params = {"tenant": tenant}
        if return_to:
            params["return_to"] = return_to
        return self.base + "/auth/login?" + urllib.parse.urlencode(params)

    def sign_in(self, tenant, email, password, session=None, return_to=None):
        """Walk the provider's form; return (session, callback response, callback URL)."""
        s = session or requests.Session()
        resp = oidc.browser_login(s, self.login_url(tenant, return_to), email, password,
                                  stop_at=self.base + "/auth/callback")
        assert resp.is_redirect, "expected the provider's redirect to the callback, got %d: %s" % (
            resp.status_code, resp.text[:500])
        cb_url = urllib.parse.urljoin(resp.url, resp.headers["Location"])
        cb = s.get(cb_url, allow_redirects=False, timeout=15)
        return s, cb, cb_url

    def session_api(self, s):
        """(me document, a function doing cookie-authenticated requests)."""
        me = s.get(self.base + "/api/v1/me", timeout=10)
        assert me.status_code == 200, me.text
        return me.json()


@pytest.fixture(scope="module")
def sso(oidc_provider, migrated, tmp_root, platform_key):
    srv = Server(migrated, tmp_root, "sso", oidc_provider.mf_api_env(), port=oidc_provider.mf_api_port)
    srv.start()
    try:
        yield SsoEnv(srv, oidc_provider, Api(srv.base, platform_key))
    finally:
        srv.stop_and_check()


def audit_actions(api, action):
    return [e for e in api.walk("/api/v1/audit", params={"action": action})]


def cookie_attrs(resp, name):
    """The Set-Cookie header of cookie name (raw), or None."""
    for value in resp.raw.headers.getlist("Set-Cookie"):
        if value.startswith(name + "="):
            return value
    return None


# --------------------------------------------------------------------------
# sign-in through the development provider


def test_invited_admin_signs_in_and_gets_a_session(sso, oidc_provider):
    tenant, api = sso.new_tenant(invite={ADMIN_EMAIL: "admin"})
    s, cb, _ = sso.sign_in(tenant["name"], ADMIN_EMAIL, oidc_provider.users[ADMIN_EMAIL], return_to="/welcome")
    assert cb.status_code == 302, cb.text
    assert cb.headers["Location"] == "/welcome"
    raw = cookie_attrs(cb, "mf_session")
    assert raw is not None, cb.headers
    assert "HttpOnly" in raw and "SameSite=Lax" in raw and "Path=/" in raw
    assert "Secure" not in raw  # the public URL here is http
    me = sso.session_api(s)
    assert me["kind"] == "user"
    assert me["role"] == "admin"
    assert me["user"]["email"] == ADMIN_EMAIL
    assert me["user"]["name"] == "Admin A"
    assert me["tenant"]["id"] == tenant["id"]
    assert "members:manage" in me["permissions"]
    assert len(me["csrf_token"]) >= 32
    # the login is on the record, with the invitation accepted
    logins = audit_actions(api, "login")
    assert [e["target"] for e in logins] == [ADMIN_EMAIL]
    members = audit_actions(api, "member.create")
    assert len(members) == 1


def test_tenant_by_id_and_default_role_from_email_domain(sso, oidc_provider):
    tenant, api = sso.new_tenant(allowed_domains=["sso-b.example"])
    s, cb, _ = sso.sign_in(tenant["id"], USER_EMAIL, oidc_provider.users[USER_EMAIL])
    assert cb.status_code == 302 and cb.headers["Location"] == "/"
    me = sso.session_api(s)
    assert me["role"] == "viewer"
    assert "catalog:write" not in me["permissions"]
    # a viewer session cannot write, even with the CSRF token
    r = s.post(sso.base + "/api/v1/datasets", json={"name": "nope"},
               headers={"X-CSRF-Token": me["csrf_token"]}, timeout=10)
    assert_error(r, 403, "forbidden")


def test_person_outside_the_tenant_is_refused_and_recorded(sso, oidc_provider):
    tenant, api = sso.new_tenant(allowed_domains=["elsewhere.example"])
    s, cb, _ = sso.sign_in(tenant["name"], USER_EMAIL, oidc_provider.users[USER_EMAIL])
    assert_error(cb, 403, "forbidden", "may not join")
    assert cookie_attrs(cb, "mf_session") is None
    assert s.get(sso.base + "/api/v1/me", timeout=10).status_code == 401
    denied = audit_actions(api, "login.denied")
    assert [e["target"] for e in denied] == [USER_EMAIL]


def test_wrong_password_stays_at_the_provider(sso, oidc_provider):
    tenant, _ = sso.new_tenant(invite={ADMIN_EMAIL: "viewer"})
    with pytest.raises(oidc.OidcLoginError):
        sso.sign_in(tenant["name"], ADMIN_EMAIL, "not-the-password")


def test_login_input_errors(sso):
    anon = requests.Session()
    for params, status, msg in [
        ({}, 400, "tenant"),
        ({"tenant": "no-such-tenant-" + secrets.token_hex(4)}, 404, "no such tenant"),
        ({"tenant": "x", "return_to": "https://evil.example/"}, 400, "return_to"),
        ({"tenant": "x", "return_to": "//evil.example/"}, 400, "return_to"),
        ({"tenant": "x", "return_to": "/\\evil.example/"}, 400, "return_to"),
        # control characters: refused by the query parser or by the return_to check, never followed
        ({"tenant": "x", "return_to": "/\t/evil.example/"}, 400, None),
        ({"tenant": "x", "return_to": "/ok\r\nSet-Cookie: x=1"}, 400, None),
        ({"tenant": "x", "return_to": "/a b"}, 400, "return_to"),
    ]:
        r = anon.get(sso.base + "/auth/login?" + urllib.parse.urlencode(params), allow_redirects=False, timeout=10)
        assert_error(r, status, None, msg)


def test_login_redirect_carries_pkce_state_and_nonce(sso, oidc_provider):
    tenant, _ = sso.new_tenant(allowed_domains=["sso-b.example"])
    s = requests.Session()
    r = s.get(sso.login_url(tenant["name"]), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    loc = urllib.parse.urlparse(r.headers["Location"])
    qs = dict(urllib.parse.parse_qsl(loc.query))
    assert r.headers["Location"].startswith(oidc_provider.provider.discovery()["authorization_endpoint"])
    assert qs["response_type"] == "code" and qs["code_challenge_method"] == "S256"
    assert qs["client_id"] == oidc_provider.client_id
    assert qs["redirect_uri"] == oidc_provider.redirect_uri
    assert len(qs["state"]) >= 43 and len(qs["nonce"]) >= 43 and len(qs["code_challenge"]) == 43
    assert set(qs["scope"].split()) >= {"openid", "email"}
    raw = cookie_attrs(r, "mf_login")
    assert raw and "HttpOnly" in raw and qs["state"] in raw
    # two logins never share a state or nonce
    r2 = requests.get(sso.login_url(tenant["name"]), allow_redirects=False, timeout=10)
    qs2 = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(r2.headers["Location"]).query))
    assert qs2["state"] != qs["state"] and qs2["nonce"] != qs["nonce"]


def test_replayed_state_and_foreign_browser_are_refused(sso, oidc_provider):
    tenant, api = sso.new_tenant(allowed_domains=["sso-b.example"])
    s, cb, cb_url = sso.sign_in(tenant["name"], USER_EMAIL, oidc_provider.users[USER_EMAIL])
    assert cb.status_code == 302
    # the same callback again (state already used)
    s.cookies.set("mf_login", dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb_url).query))["state"],
                  path="/auth")
    again = s.get(cb_url, allow_redirects=False, timeout=10)
    assert_error(again, 401, "unauthorized", "already used")
    reasons = [e["after"]["reason"] for e in audit_actions(api, "login.failed")]
    assert any("already used" in why for why in reasons), reasons
    # a callback in a browser that did not start the sign-in (no state cookie)
    s2 = requests.Session()
    resp = oidc.browser_login(s2, sso.login_url(tenant["name"]), USER_EMAIL, oidc_provider.users[USER_EMAIL],
                              stop_at=sso.base + "/auth/callback")
    url = urllib.parse.urljoin(resp.url, resp.headers["Location"])
    other = requests.get(url, allow_redirects=False, timeout=10)
    assert_error(other, 401, "unauthorized", "not started in this browser")
    # and that code is still unusable afterwards from the right browser? it was never exchanged:
    ok = s2.get(url, allow_redirects=False, timeout=10)
    assert ok.status_code == 302


def test_session_fixation(sso, oidc_provider):
    tenant, _ = sso.new_tenant(allowed_domains=["sso-b.example"])
    planted = "mfs_" + secrets.token_hex(32)
    s = requests.Session()
    s.cookies.set("mf_session", planted)
    s, cb, _ = sso.sign_in(tenant["name"], USER_EMAIL, oidc_provider.users[USER_EMAIL], session=s)
    issued = cookie_attrs(cb, "mf_session").split(";")[0].split("=", 1)[1]
    assert issued != planted and issued.startswith("mfs_")
    assert_error(requests.get(sso.base + "/api/v1/me", cookies={"mf_session": planted}, timeout=10), 401)
    assert requests.get(sso.base + "/api/v1/me", cookies={"mf_session": issued}, timeout=10).status_code == 200


def test_csrf_on_cookie_mutations_and_bearer_sessions(sso, oidc_provider):
    tenant, api = sso.new_tenant(invite={ADMIN_EMAIL: "editor"})
    s, cb, _ = sso.sign_in(tenant["name"], ADMIN_EMAIL, oidc_provider.users[ADMIN_EMAIL])
    me = sso.session_api(s)
    r = s.post(sso.base + "/api/v1/datasets", json={"name": "no-token"}, timeout=10)
    assert_error(r, 403, "forbidden", "X-CSRF-Token")
    r = s.post(sso.base + "/api/v1/datasets", json={"name": "bad-token"},
               headers={"X-CSRF-Token": "x" * len(me["csrf_token"])}, timeout=10)
    assert_error(r, 403, "forbidden", "X-CSRF-Token")
    assert api.get_dataset("no-token").status_code == 404 and api.get_dataset("bad-token").status_code == 404
    r = s.post(sso.base + "/api/v1/datasets", json={"name": "with-token"},
               headers={"X-CSRF-Token": me["csrf_token"]}, timeout=10)
    assert r.status_code == 201, r.text
    # reads need no token
    assert s.get(sso.base + "/api/v1/datasets/with-token", timeout=10).status_code == 200
    # the session token as a bearer credential (no cookie): no CSRF token needed
    token = s.cookies.get("mf_session")
    bearer = Api(sso.base, token)
    assert bearer.post("/api/v1/datasets", {"name": "by-bearer"}).status_code == 201
    # the writes are audited under the person
    created = [e for e in audit_actions(api, "dataset.create")]
    assert {e["actor"] for e in created} == {"user:" + ADMIN_EMAIL}
    refused = audit_actions(api, "csrf.refused")
    assert len(refused) == 2


def test_logout_and_logout_everywhere(sso, oidc_provider):
    tenant, api = sso.new_tenant(allowed_domains=["sso-b.example"])
    pw = oidc_provider.users[USER_EMAIL]
    s1, _, _ = sso.sign_in(tenant["name"], USER_EMAIL, pw)
    s2, _, _ = sso.sign_in(tenant["name"], USER_EMAIL, pw)
    s3, _, _ = sso.sign_in(tenant["name"], USER_EMAIL, pw)
    me1 = sso.session_api(s1)
    # logout needs the CSRF token too
    assert_error(s1.post(sso.base + "/auth/logout", timeout=10), 403, "forbidden")
    r = s1.post(sso.base + "/auth/logout", headers={"X-CSRF-Token": me1["csrf_token"]}, timeout=10)
    assert r.status_code == 204, r.text
    raw = cookie_attrs(r, "mf_session")
    assert raw is not None and "Max-Age=0" in raw
    old = me1  # the cookie is gone from s1 now; the token must be dead too
    assert s1.get(sso.base + "/api/v1/me", timeout=10).status_code == 401
    assert old["csrf_token"]
    assert s2.get(sso.base + "/api/v1/me", timeout=10).status_code == 200
    me2 = sso.session_api(s2)
    r = s2.post(sso.base + "/auth/logout?everywhere=true", headers={"X-CSRF-Token": me2["csrf_token"]}, timeout=10)
    assert r.status_code == 204
    time.sleep(1.2)  # past the in-process cache TTL of the test servers
    assert s3.get(sso.base + "/api/v1/me", timeout=10).status_code == 401
    assert len(audit_actions(api, "logout")) == 2
    # an API key cannot "log out"
    assert_error(api.post("/auth/logout"), 400, "invalid_request", "sessions")


def test_idle_and_absolute_session_timeouts(sso, oidc_provider):
    tenant, _ = sso.new_tenant(allowed_domains=["sso-b.example"])
    pw = oidc_provider.users[USER_EMAIL]
    s1, _, _ = sso.sign_in(tenant["name"], USER_EMAIL, pw)
    s2, _, _ = sso.sign_in(tenant["name"], USER_EMAIL, pw)
    h1 = hashlib.sha256(s1.cookies.get("mf_session").encode()).hexdigest()
    h2 = hashlib.sha256(s2.cookies.get("mf_session").encode()).hexdigest()
    psql(sso.pg_owner, "UPDATE sessions SET last_seen_at = now() - interval '2 hours' WHERE token_hash = '%s'" % h1,
         "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = '%s'" % h2)
    time.sleep(1.2)
    assert_error(s1.get(sso.base + "/api/v1/me", timeout=10), 401, "unauthorized", "session")
    assert_error(s2.get(sso.base + "/api/v1/me", timeout=10), 401, "unauthorized", "session")


def test_suspended_tenant_refuses_sessions(sso, oidc_provider):
    tenant, _ = sso.new_tenant(allowed_domains=["sso-b.example"])
    s, _, _ = sso.sign_in(tenant["name"], USER_EMAIL, oidc_provider.users[USER_EMAIL])
    psql(sso.pg_owner, "UPDATE tenants SET status = 'suspended' WHERE id = '%s'" % tenant["id"])
    time.sleep(1.2)
    assert_error(s.get(sso.base + "/api/v1/me", timeout=10), 403, "tenant_suspended")
    r = requests.get(sso.login_url(tenant["name"]), allow_redirects=False, timeout=10)
    assert_error(r, 403, "forbidden", "suspended")


def test_removed_member_loses_the_session(sso, oidc_provider):
    tenant, _ = sso.new_tenant(allowed_domains=["sso-b.example"])
    s, _, _ = sso.sign_in(tenant["name"], USER_EMAIL, oidc_provider.users[USER_EMAIL])
    psql(sso.pg_owner, "DELETE FROM memberships WHERE tenant_id = '%s'" % tenant["id"])
    time.sleep(1.2)
    assert s.get(sso.base + "/api/v1/me", timeout=10).status_code == 401


def test_sso_settings_api(sso):
    tenant, api = sso.new_tenant()
    r = api.get("/api/v1/sso")
    assert r.status_code == 200 and r.json()["issuer"] is None
    body = api.ok("PUT", "/api/v1/sso", 200, json_body={
        "issuer": "https://idp.example.com", "client_id": "c1", "client_secret": "s3cret",
        "allowed_domains": ["example.com"], "default_role": "editor"}).json()
    assert body["client_secret_set"] is True and "client_secret" not in body
    assert body["allowed_domains"] == ["example.com"] and body["default_role"] == "editor"
    # the secret never reaches the audit log
    for e in audit_actions(api, "sso.create"):
        assert "s3cret" not in json.dumps(e)
    # keeping the secret when it is left out
    body = api.ok("PUT", "/api/v1/sso", 200, json_body={
        "issuer": "https://idp.example.com", "client_id": "c2"}).json()
    assert body["client_secret_set"] is True and body["client_id"] == "c2" and body["allowed_domains"] == []
    for bad, msg in [
        ({"issuer": "ftp://x", "client_id": "c"}, "issuer"),
        ({"issuer": "https://x.example"}, "go together"),
        ({"allowed_domains": "example.com"}, "allowed_domains"),
        ({"allowed_domains": ["Example.COM"]}, "allowed_domains"),
        ({"allowed_domains": ["bad domain"]}, "allowed_domains"),
        ({"default_role": "admin"}, "default_role"),
        ({"surprise": 1}, "surprise"),
        ({"client_id": 5, "issuer": "https://x.example"}, "client_id"),
    ]:
        assert_error(api.put("/api/v1/sso", bad), 400, "invalid_request", msg)
    assert_error(api.req("PUT", "/api/v1/sso", data=b"{nope"), 400, "invalid_json")
    assert api.delete("/api/v1/sso").status_code == 204
    assert_error(api.delete("/api/v1/sso"), 404, "not_found")


def test_me_for_api_keys(sso):
    tenant, api = sso.new_tenant()
    me = api.ok("GET", "/api/v1/me", 200).json()
    assert me["kind"] == "key" and me["role"] == "admin" and me["user"] is None
    assert me["tenant"]["id"] == tenant["id"] and "csrf_token" not in me
    assert me["actor"].startswith("key:")
    assert_error(requests.get(sso.base + "/api/v1/me", timeout=10), 401, "unauthorized")


# --------------------------------------------------------------------------
# the browser


def test_sign_in_with_chromium(sso, oidc_provider):
    if shutil.which("node") is None or not os.path.exists("/usr/bin/chromium"):
        pytest.fail("node and /usr/bin/chromium are required (scripts/deps.sh installs chromium)")
    tenant, _ = sso.new_tenant(invite={ADMIN_EMAIL: "editor"})
    out = subprocess.run(
        ["node", os.path.join(REPO, "tests", "browser", "sso_login.mjs"),
         sso.login_url(tenant["name"], return_to="/api/v1/me"),
         ADMIN_EMAIL, oidc_provider.users[ADMIN_EMAIL],
         "--expect-json", json.dumps({"kind": "user", "role": "editor"})],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-3000:]
    me = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert me["user"]["email"] == ADMIN_EMAIL and me["tenant"]["id"] == tenant["id"]


# --------------------------------------------------------------------------
# forged ID tokens


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(header, claims, key, alg="RS256"):
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    signing = (head + "." + body).encode()
    if alg == "RS256":
        sig = key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "HS256":
        sig = hmac.new(key, signing, hashlib.sha256).digest()
    else:
        sig = b""
    return head + "." + body + "." + b64url(sig)


def rsa_jwk(key, kid):
    nums = key.public_key().public_numbers()

    def enc(n):
        return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": enc(nums.n), "e": enc(nums.e)}


class RogueProvider:
    """An OpenID provider the test controls: /authorize signs in at once and
    /token returns ``make_token(nonce)``."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.client_id = "rogue-client"
        self.client_secret = "rogue-secret"
        self.make_token = None
        self.jwks_hits = 0
        self.nonces = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_json(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self.send_json(200, {"issuer": provider.issuer,
                                         "authorization_endpoint": provider.issuer + "/authorize",
                                         "token_endpoint": provider.issuer + "/token",
                                         "jwks_uri": provider.issuer + "/jwks"})
                elif url.path == "/jwks":
                    provider.jwks_hits += 1
                    self.send_json(200, {"keys": [rsa_jwk(provider.key, provider.kid)]})
                elif url.path == "/authorize":
                    qs = dict(urllib.parse.parse_qsl(url.query))
                    code = secrets.token_hex(16)
                    provider.nonces[code] = qs["nonce"]
                    self.send_response(302)
                    self.send_header("Location", qs["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": code, "state": qs["state"]}))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_json(404, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                auth = self.headers.get("Authorization", "")
                want = "Basic " + base64.b64encode(
                    (provider.client_id + ":" + provider.client_secret).encode()).decode()
                if auth != want:
                    self.send_json(401, {"error": "invalid_client"})
                    return
                nonce = provider.nonces.pop(form.get("code", ""), None)
                if nonce is None:
                    self.send_json(400, {"error": "invalid_grant"})
                    return
                self.send_json(200, {"access_token": "at", "token_type": "Bearer",
                                     "id_token": provider.make_token(nonce)})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def claims(self, nonce_value, email="someone@forge.example", **over):
        """Good claims; keyword arguments replace them (None removes one)."""
        now = int(time.time())
        c = {"iss": self.issuer, "aud": self.client_id, "sub": "sub-" + email, "email": email,
             "email_verified": True, "name": "Forge", "iat": now, "exp": now + 300, "nonce": nonce_value}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def signed(self, nonce_value, **over):
        return make_jwt({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, self.claims(nonce_value, **over), self.key)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def rogue():
    p = RogueProvider()
    yield p
    p.close()


@pytest.fixture(scope="module")
def rogue_tenant(sso, rogue):
    return sso.new_tenant(sso={"issuer": rogue.issuer, "client_id": rogue.client_id,
                               "client_secret": rogue.client_secret, "allowed_domains": ["forge.example"]})


def rogue_sign_in(sso, tenant, base=None):
    s = requests.Session()
    url = sso.login_url(tenant["name"])
    if base is not None:
        url = url.replace(sso.base, base, 1)
    r = s.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    back = s.get(r.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    return s, s.get(back.headers["Location"], allow_redirects=False, timeout=15)


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _tampered(p, nonce):
    token = p.signed(nonce)
    head, _, sig = token.split(".")
    body = b64url(json.dumps(p.claims(nonce, email="ceo@forge.example")).encode())
    return head + "." + body + "." + sig


def _hs256_with_public_key(p, nonce):
    pem = p.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return make_jwt({"alg": "HS256", "kid": p.kid, "typ": "JWT"}, p.claims(nonce), pem, alg="HS256")


FORGERIES = {
    "alg_none": lambda p, n: make_jwt({"alg": "none", "kid": p.kid}, p.claims(n), None, alg="none"),
    "alg_none_with_signature": lambda p, n: make_jwt({"alg": "none", "kid": p.kid}, p.claims(n), None,
                                                     alg="none") + "c2ln",
    "hs256_signed_with_public_key": _hs256_with_public_key,
    "key_not_in_jwks_same_kid": lambda p, n: make_jwt({"alg": "RS256", "kid": p.kid}, p.claims(n), OTHER_KEY),
    "unknown_kid": lambda p, n: make_jwt({"alg": "RS256", "kid": "k-unknown"}, p.claims(n), OTHER_KEY),
    "wrong_iss": lambda p, n: p.signed(n, iss="http://127.0.0.1:1"),
    "wrong_aud": lambda p, n: p.signed(n, aud="someone-else"),
    "expired": lambda p, n: p.signed(n, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "not_yet_valid": lambda p, n: p.signed(n, nbf=int(time.time()) + 3600),
    "issued_in_the_future": lambda p, n: p.signed(n, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200),
    "wrong_nonce": lambda p, n: p.signed(n + "x"),
    "missing_nonce": lambda p, n: p.signed(n, nonce=None),
    "tampered_payload": _tampered,
    "not_a_jwt": lambda p, n: "definitely-not-a-token",
}


def test_rogue_provider_control_signs_in(sso, rogue, rogue_tenant):
    """The forged cases below differ from this one only by their forgery."""
    tenant, api = rogue_tenant
    rogue.make_token = lambda nonce: rogue.signed(nonce)
    s, cb = rogue_sign_in(sso, tenant)
    assert cb.status_code == 302, cb.text
    me = sso.session_api(s)
    assert me["user"]["email"] == "someone@forge.example" and me["role"] == "viewer"


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_forged_id_token_is_refused_and_audited(sso, rogue, rogue_tenant, case):
    tenant, api = rogue_tenant
    before = len(audit_actions(api, "login.failed"))
    hits = rogue.jwks_hits
    rogue.make_token = lambda nonce: FORGERIES[case](rogue, nonce)
    s, cb = rogue_sign_in(sso, tenant)
    assert_error(cb, 401, "unauthorized", "sign-in failed")
    assert cookie_attrs(cb, "mf_session") is None
    assert s.get(sso.base + "/api/v1/me", timeout=10).status_code == 401
    failed = audit_actions(api, "login.failed")
    assert len(failed) == before + 1, failed[:3]
    assert failed[0]["after"]["reason"]
    if case == "unknown_kid":
        assert rogue.jwks_hits >= hits  # refetched at most once per 10 s; never more than once per login
        assert rogue.jwks_hits <= hits + 1


def test_unverified_email_is_refused(sso, rogue, rogue_tenant):
    tenant, api = rogue_tenant
    rogue.make_token = lambda nonce: rogue.signed(nonce, email="unverified@forge.example", email_verified=False)
    s, cb = rogue_sign_in(sso, tenant)
    assert_error(cb, 403, "forbidden", "verified email")
    assert [e["target"] for e in audit_actions(api, "login.denied")][0] == "unverified@forge.example"


def test_provider_token_endpoint_refusal_is_a_clean_error(sso, rogue, rogue_tenant):
    tenant, api = rogue_tenant
    s = requests.Session()
    r = s.get(sso.login_url(tenant["name"]), allow_redirects=False, timeout=10)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(r.headers["Location"]).query))["state"]
    # a code the provider never issued
    cb = s.get(sso.base + "/auth/callback?" + urllib.parse.urlencode({"code": "bogus", "state": state}),
               allow_redirects=False, timeout=15)
    assert_error(cb, 401, "unauthorized", "sign-in failed")
    # the provider said no
    r = s.get(sso.login_url(tenant["name"]), allow_redirects=False, timeout=10)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(r.headers["Location"]).query))["state"]
    cb = s.get(sso.base + "/auth/callback?" + urllib.parse.urlencode({"error": "access_denied", "state": state}),
               allow_redirects=False, timeout=15)
    assert_error(cb, 401, "unauthorized", "access_denied")
    # garbage states
    for params in ({}, {"state": "short", "code": "x"}, {"state": "a" * 43, "code": "x"}):
        cb = requests.get(sso.base + "/auth/callback?" + urllib.parse.urlencode(params), allow_redirects=False,
                          timeout=10)
        assert_error(cb, 401, "unauthorized")


def test_forged_callbacks_are_rate_limited(sso, rogue, rogue_tenant, spawn_server, migrated):
    """Failed sign-ins count per address like wrong keys: past the limit even a good one waits."""
    srv = spawn_server("sso-limit", {"MF_AUTH_FAIL_LIMIT": "3"})
    counter = "mf:authfail:127.0.0.1"
    tenant, api = rogue_tenant
    redis_cli(migrated["MF_REDIS_URL"], "DEL", counter)
    try:
        rogue.make_token = lambda nonce: rogue.signed(nonce, aud="someone-else")
        for _ in range(3):
            _, cb = rogue_sign_in(sso, tenant, base=srv.base)
            assert_error(cb, 401, "unauthorized", "sign-in failed")
        rogue.make_token = lambda nonce: rogue.signed(nonce)
        s = requests.Session()
        r = s.get(sso.login_url(tenant["name"]).replace(sso.base, srv.base, 1), allow_redirects=False, timeout=10)
        back = s.get(r.headers["Location"], allow_redirects=False, timeout=10)
        cb = s.get(back.headers["Location"], allow_redirects=False, timeout=10)
        assert_error(cb, 429, "rate_limited")
        assert cb.headers["Retry-After"] == "60"
        redis_cli(migrated["MF_REDIS_URL"], "DEL", counter)
        _, cb = rogue_sign_in(sso, tenant, base=srv.base)
        assert cb.status_code == 302, cb.text
    finally:
        redis_cli(migrated["MF_REDIS_URL"], "DEL", counter)
