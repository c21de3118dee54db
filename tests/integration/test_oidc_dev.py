"""The development OpenID Provider (tools/oidc-dev) alone, without mf-api.

A provider is started for this module with one client whose redirect URI
points at a tiny relying party served by the test itself (``MiniRp``: the same
routes mf-api gets, /auth/login, /auth/callback, /api/v1/me, with a cookie
session). Checked: discovery and JWKS, the code flow with PKCE S256 walked by
``oidc.browser_login`` and by Chromium (tests/browser/sso_login.mjs), the
token exchange with client_secret_basic, the id_token's RS256 signature
against the JWKS, refusals (wrong password, no PKCE, wrong secret, reused
code), SIGTERM exiting 0, and the session fixture ``oidc_provider``.

Needs node with the npm packages (scripts/deps.sh) and, for the browser
test, /usr/bin/chromium; without them these tests are skipped, except under
CI=true where they fail.
"""

import http.server
import json
import os
import secrets
import shutil
import subprocess
import threading
import urllib.parse

import pytest
import requests

from conftest import REPO
from oidc import (OidcDevProvider, OidcLoginError, authorization_url, b64url_decode,
                  browser_login, exchange_code, parse_forms, pkce_pair, verify_id_token)

SSO_SCRIPT = os.path.join(REPO, "tests", "browser", "sso_login.mjs")
CHROMIUM = "/usr/bin/chromium"
CLIENT_ID = "rp-test"
ALICE = ("alice@sso-a.example", "alice-pass:with colon", "Alice A")


def _need(ok, what):
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("%s (scripts/deps.sh installs it)" % what, pytrace=False)
    pytest.skip("%s (run scripts/deps.sh)" % what)


def need_node():
    _need(shutil.which("node") is not None, "node is not on PATH")
    _need(os.path.isdir(os.path.join(REPO, "node_modules", "oidc-provider")),
          "node_modules/oidc-provider is missing")


# --------------------------------------------------------------------------
# a tiny relying party


class MiniRp:
    """A relying party in a thread: GET /auth/login starts the code flow (state,
    nonce, PKCE S256), GET /auth/callback exchanges the code (client_secret_basic),
    verifies the id_token and sets a session cookie, then redirects to /home;
    GET /api/v1/me answers the session's claims as JSON (401 without one)."""

    def __init__(self):
        rp = self
        self.pending = {}  # state -> (nonce, verifier)
        self.sessions = {}  # cookie -> id_token claims
        self.errors = []
        self.provider = None
        self.client_secret = secrets.token_hex(16)

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    rp.handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client left before reading the answer (a browser moving on): not the RP's fault
                except Exception as e:  # reported by the tests through rp.errors
                    rp.errors.append(repr(e))
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.redirect_uri = self.base + "/auth/callback"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def client(self):
        return {"client_id": CLIENT_ID, "client_secret": self.client_secret,
                "redirect_uris": [self.redirect_uri]}

    def start(self, provider):
        self.provider = provider
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def reply(h, status, body=b"", ctype="text/html; charset=utf-8", headers=()):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        disco = self.provider.discovery()
        if url.path == "/auth/login":
            state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
            verifier, challenge = pkce_pair()
            self.pending[state] = (nonce, verifier)
            loc = authorization_url(disco, CLIENT_ID, self.redirect_uri, state, nonce, challenge)
            return self.reply(h, 302, headers=[("Location", loc)])
        if url.path == "/auth/callback":
            nonce, verifier = self.pending.pop(query.get("state"), (None, None))
            if nonce is None or "code" not in query:
                return self.reply(h, 400, b"bad callback: " + h.path.encode())
            assert query.get("iss") == self.provider.issuer, query
            r = exchange_code(disco, CLIENT_ID, self.client_secret, query["code"],
                              self.redirect_uri, verifier)
            assert r.status_code == 200, r.text
            _, claims = verify_id_token(r.json()["id_token"], self.provider.jwks(),
                                        self.provider.issuer, CLIENT_ID, nonce=nonce)
            sid = secrets.token_urlsafe(16)
            self.sessions[sid] = claims
            return self.reply(h, 303, headers=[
                ("Location", "/home"), ("Set-Cookie", "rp_sid=%s; Path=/; HttpOnly; SameSite=Lax" % sid)])
        cookies = dict(c.strip().split("=", 1) for c in (h.headers.get("Cookie") or "").split(";")
                       if "=" in c)
        claims = self.sessions.get(cookies.get("rp_sid"))
        if url.path == "/home":
            who = claims["email"] if claims else "nobody"
            return self.reply(h, 200, ("<!doctype html><title>RP</title><p>Signed in as %s</p>"
                                       % who).encode())
        if url.path == "/api/v1/me":
            if not claims:
                return self.reply(h, 401, b'{"error":"not signed in"}', "application/json")
            me = {k: claims.get(k) for k in ("sub", "email", "email_verified", "name")}
            return self.reply(h, 200, json.dumps(me).encode(), "application/json")
        return self.reply(h, 404, b"not found")


@pytest.fixture(scope="module")
def rp_and_provider(tmp_root):
    need_node()
    rp = MiniRp()
    provider = OidcDevProvider(tmp_root, name="test-oidc-dev", clients=[rp.client()], users=[
        {"email": ALICE[0], "password": ALICE[1], "name": ALICE[2]},
        {"email": "bob@sso-b.example", "password": "bob-pass"},
    ])
    try:
        provider.start()
        rp.start(provider)
        yield rp, provider
        assert not rp.errors, rp.errors
    finally:
        rc = provider.stop()
        rp.stop()
    assert rc == 0, "exit status after SIGTERM: %r\n%s" % (rc, provider.log_tail())


@pytest.fixture
def rp(rp_and_provider):
    return rp_and_provider[0]


@pytest.fixture
def provider(rp_and_provider):
    p = rp_and_provider[1]
    since = p.log_size()
    yield p
    # Shown with the failure report of the test (pytest prints captured output).
    print("--- oidc-dev log during this test (%s):\n%s" % (p.log_path, p.log_text(since)))


def start_flow(provider, redirect_uri, **extra):
    """An authorization URL with fresh state, nonce and PKCE; returns (url, state, nonce, verifier)."""
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair()
    url = authorization_url(provider.discovery(), CLIENT_ID, redirect_uri, state, nonce, challenge,
                            **extra)
    return url, state, nonce, verifier


def callback_params(resp, redirect_uri):
    loc = resp.headers.get("Location", "")
    assert resp.is_redirect and loc.startswith(redirect_uri + "?"), (resp.status_code, loc, resp.text[:500])
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))


# --------------------------------------------------------------------------
# the provider


def test_discovery_and_jwks(provider):
    d = provider.discovery()
    iss = provider.issuer
    assert iss.startswith("http://127.0.0.1:") and d["issuer"] == iss
    for k in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert d[k].startswith(iss + "/"), (k, d[k])
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["response_types_supported"] == ["code"]
    assert "client_secret_basic" in d["token_endpoint_auth_methods_supported"]
    assert "RS256" in d["id_token_signing_alg_values_supported"]
    assert {"openid", "email", "profile"} <= set(d["scopes_supported"])
    assert {"sub", "email", "email_verified", "name"} <= set(d["claims_supported"])
    keys = provider.jwks()["keys"]
    rsa = [k for k in keys if k["kty"] == "RSA"]
    assert len(rsa) == 1 and rsa[0]["alg"] == "RS256" and rsa[0]["use"] == "sig" and rsa[0]["kid"]
    assert all("d" not in k and "p" not in k for k in keys), "private key material in the JWKS"
    assert len({k["kid"] for k in keys}) == len(keys)


def test_code_flow_pkce_s256_id_token_rs256(provider, rp):
    url, state, nonce, verifier = start_flow(provider, rp.redirect_uri)
    s = requests.Session()
    resp = browser_login(s, url, ALICE[0].upper(), ALICE[1], stop_at=rp.redirect_uri)
    params = callback_params(resp, rp.redirect_uri)
    assert params["state"] == state and params["iss"] == provider.issuer and params["code"]

    disco = provider.discovery()
    r = exchange_code(disco, CLIENT_ID, rp.client_secret, params["code"], rp.redirect_uri, verifier)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"].lower() == "bearer" and tokens["access_token"]
    header, claims = verify_id_token(tokens["id_token"], provider.jwks(), provider.issuer,
                                     CLIENT_ID, nonce=nonce)
    assert header["alg"] == "RS256"
    assert claims["email"] == ALICE[0] and claims["email_verified"] is True
    assert claims["name"] == ALICE[2] and claims["sub"]

    # A tampered token fails the signature check.
    from cryptography.exceptions import InvalidSignature
    h, b, sig = tokens["id_token"].split(".")
    forged = json.loads(b64url_decode(b))
    forged["email"] = "mallory@sso-a.example"
    from oidc import b64url
    with pytest.raises(InvalidSignature):
        verify_id_token(".".join([h, b64url(json.dumps(forged).encode()), sig]),
                        provider.jwks(), provider.issuer, CLIENT_ID)

    # userinfo with the access token says the same.
    u = requests.get(disco["userinfo_endpoint"], timeout=10,
                     headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert u.status_code == 200, u.text
    assert u.json()["sub"] == claims["sub"] and u.json()["email"] == ALICE[0]

    # A code works once.
    r2 = exchange_code(disco, CLIENT_ID, rp.client_secret, params["code"], rp.redirect_uri, verifier)
    assert r2.status_code == 400 and r2.json()["error"] == "invalid_grant", r2.text

    # The same browser session signs in again without the form; same subject.
    url, state, nonce, verifier = start_flow(provider, rp.redirect_uri)
    resp = browser_login(s, url, "unused", "unused", stop_at=rp.redirect_uri)
    params = callback_params(resp, rp.redirect_uri)
    r = exchange_code(disco, CLIENT_ID, rp.client_secret, params["code"], rp.redirect_uri, verifier)
    assert r.status_code == 200, r.text
    assert verify_id_token(r.json()["id_token"], provider.jwks(), provider.issuer, CLIENT_ID,
                           nonce=nonce)[1]["sub"] == claims["sub"]


def test_wrong_password_shows_the_form_again(provider, rp):
    url, state, _, verifier = start_flow(provider, rp.redirect_uri)
    s = requests.Session()
    with pytest.raises(OidcLoginError) as exc:
        browser_login(s, url, ALICE[0], "not-the-password", stop_at=rp.redirect_uri)
    resp = exc.value.response
    assert resp.status_code == 401
    forms, errors = parse_forms(resp.text)
    assert errors == ["Wrong e-mail or password."], errors
    login = [f for f in forms if any(t == "password" for _, t, _ in f.inputs)]
    assert len(login) == 1
    assert ("email", "email", ALICE[0]) in login[0].inputs  # the e-mail is kept, never the password
    assert "not-the-password" not in resp.text

    # An unknown user gets the same answer.
    with pytest.raises(OidcLoginError) as exc:
        browser_login(requests.Session(), start_flow(provider, rp.redirect_uri)[0],
                      "nobody@sso-a.example", ALICE[1], stop_at=rp.redirect_uri)
    assert exc.value.response.status_code == 401
    assert parse_forms(exc.value.response.text)[1] == ["Wrong e-mail or password."]

    # The same form, now with the right password, finishes the flow.
    action = urllib.parse.urljoin(resp.url, login[0].attrs["action"])
    r = s.post(action, data={"email": ALICE[0], "password": ALICE[1]}, allow_redirects=False)
    while r.is_redirect and not r.headers["Location"].startswith(rp.redirect_uri):
        r = s.get(urllib.parse.urljoin(r.url, r.headers["Location"]), allow_redirects=False)
    params = callback_params(r, rp.redirect_uri)
    assert params["state"] == state
    tok = exchange_code(provider.discovery(), CLIENT_ID, rp.client_secret, params["code"],
                        rp.redirect_uri, verifier)
    assert tok.status_code == 200, tok.text


def test_pkce_is_required_and_checked(provider, rp):
    disco = provider.discovery()
    base = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": rp.redirect_uri,
            "scope": "openid email", "state": "st", "nonce": "n"}
    for extra in ({}, {"code_challenge": "x" * 43, "code_challenge_method": "plain"}):
        q = dict(base, **extra)
        r = requests.get(disco["authorization_endpoint"] + "?" + urllib.parse.urlencode(q),
                         allow_redirects=False, timeout=10)
        params = callback_params(r, rp.redirect_uri)
        assert params["error"] == "invalid_request", params

    # A wrong code_verifier is refused at the token endpoint.
    url, _, _, verifier = start_flow(provider, rp.redirect_uri)
    resp = browser_login(requests.Session(), url, ALICE[0], ALICE[1], stop_at=rp.redirect_uri)
    code = callback_params(resp, rp.redirect_uri)["code"]
    r = exchange_code(disco, CLIENT_ID, rp.client_secret, code, rp.redirect_uri, pkce_pair()[0])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


def test_token_endpoint_needs_the_client_secret(provider, rp):
    url, _, _, verifier = start_flow(provider, rp.redirect_uri)
    resp = browser_login(requests.Session(), url, ALICE[0], ALICE[1], stop_at=rp.redirect_uri)
    code = callback_params(resp, rp.redirect_uri)["code"]
    r = exchange_code(provider.discovery(), CLIENT_ID, "wrong-secret", code, rp.redirect_uri, verifier)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_unregistered_redirect_uri_is_refused(provider, rp):
    url = start_flow(provider, rp.base + "/elsewhere")[0]
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and not r.is_redirect, (r.status_code, r.headers)
    assert "redirect_uri" in r.text


def test_browser_login_through_a_relying_party(provider, rp):
    s = requests.Session()
    final = browser_login(s, rp.base + "/auth/login", ALICE[0], ALICE[1])
    assert final.status_code == 200 and final.url == rp.base + "/home", (final.url, final.text[:300])
    assert "Signed in as " + ALICE[0] in final.text
    me = s.get(rp.base + "/api/v1/me", timeout=10)
    assert me.status_code == 200 and me.json()["email"] == ALICE[0], me.text


def test_bad_settings_are_refused(tmp_root):
    need_node()
    server = os.path.join(REPO, "tools", "oidc-dev", "server.mjs")
    for args, msg in (
        (["--host", "0.0.0.0", "--client", "c:s:http://127.0.0.1:1/cb", "--user", "a@b.example:p"],
         "loopback only"),
        (["--user", "a@b.example:p"], "no client"),
        (["--client", "c:s:http://127.0.0.1:1/cb"], "no user"),
    ):
        p = subprocess.run(["node", server] + args, cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 2 and msg in p.stderr.decode(), (args, p.returncode, p.stderr)


def test_flags_and_sigterm(tmp_root):
    """Clients and users from flags (no config file); SIGTERM exits 0."""
    need_node()
    server = os.path.join(REPO, "tools", "oidc-dev", "server.mjs")
    log = os.path.join(tmp_root, "oidc-dev-flags.log")
    with open(log, "wb") as fh:
        p = subprocess.Popen(["node", server, "--client", "c1:s1:http://127.0.0.1:1/cb",
                              "--user", "carol@sso-a.example:pw", "--alg", "RS256"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=fh)
    try:
        line = p.stdout.readline().decode()
        assert line.startswith("oidc-dev listening on http://127.0.0.1:"), line
        issuer = line.split()[-1]
        keys = requests.get(issuer + "/jwks", timeout=10).json()["keys"]
        assert [k["alg"] for k in keys] == ["RS256"]
    finally:
        p.terminate()
        rc = p.wait(timeout=10)
    assert rc == 0, rc


# --------------------------------------------------------------------------
# Chromium through playwright-core


def need_browser():
    need_node()
    _need(os.access(CHROMIUM, os.X_OK), "%s is not installed" % CHROMIUM)
    _need(os.path.isdir(os.path.join(REPO, "node_modules", "playwright-core")),
          "node_modules/playwright-core is missing")


def sso_login(*args, timeout=120):
    p = subprocess.run(["node", SSO_SCRIPT] + list(args), cwd=REPO, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_chromium_login(provider, rp):
    need_browser()
    expect = json.dumps({"email": ALICE[0], "email_verified": True, "name": ALICE[2]})
    rc, out, err = sso_login(rp.base + "/auth/login", ALICE[0], ALICE[1], "--expect-json", expect)
    assert rc == 0, "sso_login.mjs exited %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err)
    me = json.loads(out.strip().splitlines()[-1])
    assert me["email"] == ALICE[0] and me["sub"], me

    # Landing check only, no /me.
    rc, out, err = sso_login("--start", rp.base + "/auth/login", "--email", "bob@sso-b.example",
                             "--password", "bob-pass", "--no-me",
                             "--expect-text", "Signed in as bob@sso-b.example")
    assert rc == 0, "sso_login.mjs exited %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err)
    assert json.loads(out)["url"] == rp.base + "/home", out

    # A check that does not hold fails with a clear message.
    rc, out, err = sso_login(rp.base + "/auth/login", ALICE[0], ALICE[1],
                             "--expect-json", '{"email": "someone@else.example"}')
    assert rc == 1 and "does not contain" in err, (rc, out, err)


def test_chromium_wrong_password(provider, rp):
    need_browser()
    rc, out, err = sso_login(rp.base + "/auth/login", ALICE[0], "wrong", "--expect-refused")
    assert rc == 0, "sso_login.mjs exited %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err)
    assert json.loads(out) == {"refused": "Wrong e-mail or password."}
    rc, out, err = sso_login(rp.base + "/auth/login", ALICE[0], "wrong")
    assert rc == 1 and "Wrong e-mail or password." in err, (rc, out, err)


# --------------------------------------------------------------------------
# the session fixture for the SSO tests


def test_session_fixture(oidc_provider):
    need_node()
    o = oidc_provider
    assert o.redirect_uri == "http://127.0.0.1:%d/auth/callback" % o.mf_api_port
    env = o.mf_api_env()
    assert env["MF_OIDC_ISSUER"] == o.issuer and env["MF_PUBLIC_URL"] == o.public_url
    assert env["MF_OIDC_CLIENT_ID"] == "mf-api" and env["MF_OIDC_CLIENT_SECRET"] == o.client_secret
    disco = o.provider.discovery()
    assert disco["issuer"] == o.issuer
    for email, password, name in ((o.admin_email, o.admin_password, "Admin A"),
                                  (o.user_email, o.user_password, "User B")):
        state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        verifier, challenge = pkce_pair()
        url = authorization_url(disco, o.client_id, o.redirect_uri, state, nonce, challenge)
        resp = browser_login(requests.Session(), url, email, password, stop_at=o.redirect_uri)
        params = callback_params(resp, o.redirect_uri)
        r = exchange_code(disco, o.client_id, o.client_secret, params["code"], o.redirect_uri,
                          verifier)
        assert r.status_code == 200, r.text
        claims = verify_id_token(r.json()["id_token"], o.provider.jwks(), o.issuer, o.client_id,
                                 nonce=nonce)[1]
        assert (claims["email"], claims["name"], claims["email_verified"]) == (email, name, True)
