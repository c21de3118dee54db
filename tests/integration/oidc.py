"""Helpers for single sign-on tests against the development OpenID Provider.

``OidcDevProvider`` runs ``tools/oidc-dev/server.mjs`` (the npm package
``oidc-provider`` 8 with its own login form) as a subprocess on a free
loopback port. ``browser_login`` walks a relying party's login the way a
browser does (redirects, the provider's login form, consent, back). The rest
are the client side of the authorization code flow with PKCE, for tests that
play a relying party themselves: ``pkce_pair``, ``authorization_url``,
``exchange_code``, ``verify_id_token`` (RS256 / ES256 with
python3-cryptography).

Standard library, requests and cryptography only.
"""

import base64
import hashlib
import html.parser
import json
import os
import secrets
import subprocess
import time
import urllib.parse

import requests

from logfile import StoppableProcess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER_JS = os.path.join(REPO, "tools", "oidc-dev", "server.mjs")
READY_PREFIX = "oidc-dev listening on "


# --------------------------------------------------------------------------
# the provider process


class OidcDevProvider(StoppableProcess):
    """The development OpenID Provider as a subprocess.

    ``clients``: dicts with ``client_id``, ``client_secret``, ``redirect_uris``
    (and optionally ``post_logout_redirect_uris``). ``users``: dicts with
    ``email``, ``password`` and optionally ``name`` and ``sub``. The settings
    go to a JSON file (mode 0600) in ``tmpdir``; stdout and stderr go to
    ``log_path``. The port is picked by the provider itself (port 0) unless
    given, so there is no race for it; ``issuer`` is read from its ready line.

    It has what the integration harness needs to dump its log on a failure
    (``label``, ``name``, ``port``, ``http``, ``log_size``, ``log_text``,
    ``log_tail``, ``sanitizer_report``)."""

    def __init__(self, tmpdir, clients, users, name="oidc", port=0, signing_algs=None):
        self.name = name
        self.label = "oidc-dev"
        self.http = True
        self.tmpdir = tmpdir
        self.clients = [dict(c) for c in clients]
        self.users = [dict(u) for u in users]
        self.requested_port = port
        self.signing_algs = signing_algs
        self.port = None
        self.issuer = None
        self.config_path = os.path.join(tmpdir, "oidc-dev-%s.json" % name)
        self.log_path = os.path.join(tmpdir, "oidc-dev-%s.log" % name)
        self.proc = None
        self.stopped_rc = None
        self._log = None
        self._discovery = None

    # -- lifecycle -----------------------------------------------------
    def start(self, timeout=30.0):
        settings = {"host": "127.0.0.1", "port": self.requested_port,
                    "clients": self.clients, "users": self.users}
        if self.signing_algs:
            settings["signing_algs"] = list(self.signing_algs)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(settings, fh, indent=2)
        since = self.log_size()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["node", SERVER_JS, "--config", self.config_path],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        self.stopped_rc = None
        self._discovery = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_text(since).splitlines():
                if line.startswith(READY_PREFIX):
                    self.issuer = line[len(READY_PREFIX):].strip()
                    self.port = urllib.parse.urlsplit(self.issuer).port
                    return self
            if self.proc.poll() is not None:
                self._finish()
                raise AssertionError("oidc-dev exited with %d at start:\n%s" % (
                    self.proc.returncode, self.log_tail(since)))
            time.sleep(0.05)
        self.kill()
        raise AssertionError("oidc-dev not ready after %.0fs:\n%s" % (timeout, self.log_tail(since)))

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def _finish(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- what it serves ------------------------------------------------
    def discovery(self):
        """The discovery document (cached per start)."""
        if self._discovery is None:
            r = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=10)
            r.raise_for_status()
            self._discovery = r.json()
        return self._discovery

    def jwks(self):
        r = requests.get(self.discovery()["jwks_uri"], timeout=10)
        r.raise_for_status()
        return r.json()

    def sanitizer_report(self, since=0):
        return None  # a Node.js process: nothing to report


# --------------------------------------------------------------------------
# a browser's walk through a login


class OidcLoginError(AssertionError):
    """The login did not get back to the relying party; ``response`` is the
    last page (e.g. the login form again, status 401, after a wrong password)."""

    def __init__(self, message, response):
        super().__init__(message)
        self.response = response


class _Form:
    def __init__(self, attrs):
        self.attrs = attrs
        self.inputs = []  # (name, type, value)
        self.buttons = []  # (name, value) of submit buttons


class _FormParser(html.parser.HTMLParser):
    """Collects the forms of a page and the text of elements marked
    ``data-oidc-error`` (the provider's error messages)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.errors = []
        self._form = None
        self._error_depth = 0

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if "data-oidc-error" in a:
            self.errors.append("")
            self._error_depth = 1
        elif self._error_depth:
            self._error_depth += 1
        if tag == "form":
            self._form = _Form(a)
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and a.get("name"):
            self._form.inputs.append((a["name"], a.get("type", "text").lower(), a.get("value", "")))
        elif self._form is not None and tag == "button" and a.get("type", "submit") == "submit":
            if a.get("name"):
                self._form.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if self._error_depth:
            self._error_depth -= 1

    def handle_data(self, data):
        if self._error_depth:
            self.errors[-1] += data


def parse_forms(page_html):
    """(forms, error texts) of an HTML page; see ``_FormParser``."""
    p = _FormParser()
    p.feed(page_html)
    p.close()
    return p.forms, [e.strip() for e in p.errors]


def _is_html(resp):
    return resp.headers.get("Content-Type", "").startswith("text/html")


def _follow(session, resp, stop_at, timeout, trail):
    """Follow redirects by hand (so that ``stop_at`` can stop them)."""
    for _ in range(30):
        if not resp.is_redirect:
            return resp
        location = urllib.parse.urljoin(resp.url, resp.headers["Location"])
        if stop_at and location.startswith(stop_at):
            return resp
        trail.append(location)
        resp = session.get(location, allow_redirects=False, timeout=timeout)
    raise OidcLoginError("more than 30 redirects: %s" % trail[-5:], resp)


def browser_login(session, start_url, email, password, stop_at=None, timeout=15.0):
    """Log in as a browser would, and return the last response.

    GETs ``start_url`` (a relying party's login route, or an authorization
    URL) following redirects to the provider's login form, parses it (action,
    hidden inputs) and POSTs ``email`` and ``password``, submits a consent
    form if one is shown, and follows the redirects back to the relying party
    with ``session``'s cookies. The answer is the first response that is
    neither a redirect nor a provider form: normally the relying party's page
    after its callback.

    ``stop_at``: a URL prefix (a redirect URI); a redirect whose Location
    starts with it is returned unfollowed, for tests without a listener there
    (read ``code`` and ``state`` from ``resp.headers["Location"]``).

    Raises ``OidcLoginError`` (with ``.response``) when the provider shows the
    login form again (wrong password) or an error page, or no form is found."""
    trail = [start_url]
    resp = session.get(start_url, allow_redirects=False, timeout=timeout)
    resp = _follow(session, resp, stop_at, timeout, trail)
    submitted_login = False
    for _ in range(5):
        if resp.is_redirect or not _is_html(resp):
            return resp
        forms, errors = parse_forms(resp.text)
        login = [f for f in forms if any(t == "password" for _, t, _ in f.inputs)]
        if login:
            if submitted_login:
                raise OidcLoginError("login refused (%d): %s" % (
                    resp.status_code, "; ".join(errors) or "the login form came back"), resp)
            form = login[0]
            data = {}
            for name, type_, value in form.inputs:
                if type_ == "password":
                    data[name] = password
                elif type_ == "email" or name in ("email", "login", "username"):
                    data[name] = email
                elif type_ in ("hidden", "text"):
                    data[name] = value
            submitted_login = True
        elif errors:
            raise OidcLoginError("the provider says: %s" % "; ".join(errors), resp)
        else:
            # A consent form (hidden inputs and a submit button), else the RP's own page.
            consent = [f for f in forms if "/interaction/" in f.attrs.get("action", "")
                       and not f.attrs.get("action", "").endswith("/abort")]
            if not consent:
                return resp
            form = consent[0]
            data = {n: v for n, t, v in form.inputs if t in ("hidden", "text", "submit")}
            data.update(form.buttons[:1])
        action = urllib.parse.urljoin(resp.url, form.attrs.get("action") or resp.url)
        trail.append("POST " + action)
        resp = session.post(action, data=data, allow_redirects=False, timeout=timeout)
        resp = _follow(session, resp, stop_at, timeout, trail)
    raise OidcLoginError("still on the provider's forms after 5 submissions: %s" % trail[-5:], resp)


# --------------------------------------------------------------------------
# the relying party's side, for tests that play one


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def pkce_pair():
    """(code_verifier, code_challenge) for PKCE S256."""
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def authorization_url(discovery, client_id, redirect_uri, state, nonce, code_challenge,
                      scope="openid email profile", **extra):
    """The authorization request URL (response_type code, PKCE S256)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)


def exchange_code(discovery, client_id, client_secret, code, redirect_uri, code_verifier,
                  timeout=15.0):
    """POST to the token endpoint with client_secret_basic; returns the response."""
    # RFC 6749 2.3.1: id and secret are form-urlencoded before the Basic encoding.
    auth = (urllib.parse.quote(client_id, safe=""), urllib.parse.quote(client_secret, safe=""))
    return requests.post(discovery["token_endpoint"], auth=auth, timeout=timeout, data={
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    })


def _public_key(jwk):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if jwk["kty"] == "RSA":
        n = int.from_bytes(b64url_decode(jwk["n"]), "big")
        e = int.from_bytes(b64url_decode(jwk["e"]), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if jwk["kty"] == "EC" and jwk.get("crv") == "P-256":
        x = int.from_bytes(b64url_decode(jwk["x"]), "big")
        y = int.from_bytes(b64url_decode(jwk["y"]), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    raise ValueError("unsupported JWK %s/%s" % (jwk.get("kty"), jwk.get("crv")))


def verify_id_token(id_token, jwks, issuer, audience, nonce=None, alg="RS256", leeway=60):
    """Check an id_token's signature (by ``kid`` in ``jwks``, algorithm ``alg``
    only) and its iss, aud, exp, iat and nonce; returns (header, claims).
    Raises AssertionError or cryptography's InvalidSignature."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

    head_b64, body_b64, sig_b64 = id_token.split(".")
    header = json.loads(b64url_decode(head_b64))
    claims = json.loads(b64url_decode(body_b64))
    assert header.get("alg") == alg, "id_token alg %r, expected %r" % (header.get("alg"), alg)
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    assert len(keys) == 1, "kid %r: %d keys in the JWKS" % (header.get("kid"), len(keys))
    key = _public_key(keys[0])
    signed = (head_b64 + "." + body_b64).encode("ascii")
    sig = b64url_decode(sig_b64)
    if alg == "RS256":
        key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        assert len(sig) == 64, "ES256 signature of %d bytes" % len(sig)
        der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                         int.from_bytes(sig[32:], "big"))
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    else:
        raise ValueError("unsupported alg %s" % alg)
    now = time.time()
    assert claims.get("iss") == issuer, (claims.get("iss"), issuer)
    aud = claims.get("aud")
    assert aud == audience or (isinstance(aud, list) and audience in aud), (aud, audience)
    assert claims.get("exp", 0) > now - leeway, "id_token expired: %r" % claims
    assert claims.get("iat", now + 2 * leeway) < now + leeway, "id_token iat in the future: %r" % claims
    if nonce is not None:
        assert claims.get("nonce") == nonce, (claims.get("nonce"), nonce)
    return header, claims
