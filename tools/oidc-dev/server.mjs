#!/usr/bin/env node
// oidc-dev: a development OpenID Provider for MetaFuse Cloud (local stack and tests).
//
// Built on `oidc-provider` 8 (a certified OpenID Provider; pinned in the root
// package-lock.json). It serves discovery, JWKS, the authorization code flow
// with PKCE (S256, required for every client), the token and userinfo
// endpoints, and its OWN login form that checks each user's password. Consent
// is granted automatically for the scopes openid, email and profile, so a
// browser (or a person) goes: relying party -> login form -> relying party.
//
// Loopback only, plain http, in-memory state, signing keys made at each
// start: for development and tests, never for anything else.
//
// Usage:
//   node tools/oidc-dev/server.mjs [--config FILE] [--host H] [--port P] [--issuer URL]
//        [--client ID:SECRET:REDIRECT_URI[ REDIRECT_URI...]]... [--user EMAIL:PASSWORD]...
//        [--alg RS256|ES256]...
//
//   --config FILE  JSON settings (flags given as well override or add to it):
//                  {"host": "127.0.0.1", "port": 0, "issuer": "http://127.0.0.1:9000",
//                   "clients": [{"client_id": "mf-api", "client_secret": "...",
//                                "redirect_uris": ["http://127.0.0.1:8080/auth/callback"],
//                                "post_logout_redirect_uris": ["http://127.0.0.1:8080/"]}],
//                   "users": [{"email": "demo@example.com", "password": "...",
//                              "name": "Demo User", "sub": "optional-fixed-subject"}],
//                   "signing_algs": ["RS256", "ES256"]}
//   --host H       listen address, loopback only (default 127.0.0.1)
//   --port P       listen port (default 0: a free port, printed in the ready line)
//   --issuer URL   issuer (default http://HOST:PORT with the port actually bound;
//                  an explicit issuer needs an explicit --port)
//   --client       a confidential client (client_secret_basic, authorization_code,
//                  response type code, id_token signed RS256); redirect URIs space separated
//   --user         a user; the name defaults to the e-mail's local part, `sub` to a
//                  hash of the e-mail (stable across restarts), email_verified is true
//   --alg          signing keys to generate (default RS256 and ES256; id_tokens use RS256)
//
// Prints exactly one line on stdout when ready: "oidc-dev listening on <issuer>".
// Errors and a one-line access log go to stderr. SIGTERM or SIGINT: exit 0.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

process.title = 'oidc-dev'; // /proc/PID/comm, so scripts can check a pid is ours

function die(msg) {
  process.stderr.write(`oidc-dev: ${msg}\n`);
  process.exit(2);
}

// --- settings ----------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    config: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    issuer: { type: 'string' },
    client: { type: 'string', multiple: true },
    user: { type: 'string', multiple: true },
    alg: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  },
});
if (flags.help) {
  // The comment block at the top of this file is the help text.
  const text = fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  process.stdout.write(`${text.slice(1).filter((l) => l.startsWith('//'))
    .map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
  process.exit(0);
}

let settings = {};
if (flags.config) {
  try {
    settings = JSON.parse(fs.readFileSync(flags.config, 'utf8'));
  } catch (err) {
    die(`cannot read --config ${flags.config}: ${err.message}`);
  }
}
const host = flags.host ?? settings.host ?? '127.0.0.1';
const port = Number(flags.port ?? settings.port ?? 0);
let issuer = flags.issuer ?? settings.issuer;
const clients = [...(settings.clients ?? [])];
const users = [...(settings.users ?? [])];
const algs = flags.alg ?? settings.signing_algs ?? ['RS256', 'ES256'];

for (const spec of flags.client ?? []) {
  const m = /^([^:]+):([^:]+):(.+)$/.exec(spec);
  if (!m) die(`--client ${spec}: expected ID:SECRET:REDIRECT_URI[ REDIRECT_URI...]`);
  clients.push({ client_id: m[1], client_secret: m[2], redirect_uris: m[3].split(/\s+/).filter(Boolean) });
}
for (const spec of flags.user ?? []) {
  const i = spec.indexOf(':');
  if (i <= 0) die(`--user ${spec}: expected EMAIL:PASSWORD`);
  users.push({ email: spec.slice(0, i), password: spec.slice(i + 1) });
}

if (!['127.0.0.1', '::1', 'localhost'].includes(host)) die(`--host ${host}: loopback only (127.0.0.1, ::1, localhost)`);
if (!Number.isInteger(port) || port < 0 || port > 65535) die(`bad port ${port}`);
if (issuer && port === 0) die('an explicit issuer needs an explicit port');
if (!clients.length) die('no client configured (--client or "clients" in --config)');
if (!users.length) die('no user configured (--user or "users" in --config)');
for (const a of algs) if (!['RS256', 'ES256'].includes(a)) die(`unsupported --alg ${a}`);
if (!algs.includes('RS256')) die('RS256 is required (id_tokens are signed with it)');

for (const c of clients) {
  if (!c.client_id || !c.client_secret || !Array.isArray(c.redirect_uris) || !c.redirect_uris.length) {
    die(`client ${JSON.stringify(c.client_id)}: client_id, client_secret and redirect_uris are required`);
  }
}

// Users by lower-cased e-mail and by subject.
const byEmail = new Map();
const bySub = new Map();
for (const u of users) {
  if (!u.email || !u.password) die('every user needs an email and a password');
  const email = String(u.email).toLowerCase();
  const user = {
    sub: u.sub ?? crypto.createHash('sha256').update(email).digest('hex').slice(0, 32),
    email,
    name: u.name ?? email.split('@')[0],
    password: String(u.password),
  };
  if (byEmail.has(email)) die(`user ${email} listed twice`);
  byEmail.set(email, user);
  bySub.set(user.sub, user);
}

// Constant-time password check (hash both sides to equal lengths first).
function passwordMatches(user, given) {
  const a = crypto.createHash('sha256').update(user.password).digest();
  const b = crypto.createHash('sha256').update(String(given ?? '')).digest();
  return crypto.timingSafeEqual(a, b);
}

// --- signing keys, made fresh at each start ------------------------------------

function signingKey(alg) {
  const { privateKey } = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}` };
}
// RS256 first: the default key for anything not told otherwise.
const keys = ['RS256', ...algs.filter((a) => a !== 'RS256')].map(signingKey);

// --- HTML ----------------------------------------------------------------------

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${esc(title)}</title>
<style>body{font:16px system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;margin:.3rem 0}
input,button{padding:.5rem;font:inherit}.error{color:#b00020}.dev{color:#666;font-size:.8rem}</style>
</head><body>${body}</body></html>`;
}

function loginPage(uid, clientId, email, error) {
  return page('Sign in', `<h1>Sign in</h1>
<p>to continue to <strong>${esc(clientId)}</strong></p>
${error ? `<p class="error" role="alert" data-oidc-error>${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off" data-oidc-login>
<label for="email">E-mail</label>
<input id="email" type="email" name="email" value="${esc(email)}" required ${email ? '' : 'autofocus'}>
<label for="password">Password</label>
<input id="password" type="password" name="password" required ${email ? 'autofocus' : ''}>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>
<p class="dev">MetaFuse development OpenID Provider (oidc-dev)</p>`);
}

function send(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(html),
  });
  res.end(html);
}

async function formBody(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// --- the provider --------------------------------------------------------------

function makeProvider(issuerUrl) {
  return new Provider(issuerUrl, {
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    })),
    jwks: { keys },
    cookies: {
      keys: [crypto.randomBytes(32).toString('hex')],
      // Plain http: SameSite=None would need Secure; Lax works for redirects.
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    scopes: ['openid', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Put the granted claims (email, email_verified, name) in the id_token too,
    // not only behind the userinfo endpoint.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: false }, // our own login form below
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const u = bySub.get(sub);
      if (!u) return undefined;
      return {
        accountId: u.sub,
        async claims() {
          return { sub: u.sub, email: u.email, email_verified: true, name: u.name };
        },
      };
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>Error</h1><p class="error" data-oidc-error>${esc(out.error)}: ${esc(out.error_description)}</p>`);
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
  });
}

// /interaction/:uid           GET: the login form, or consent granted at once
// /interaction/:uid/login     POST email + password
// /interaction/:uid/abort     POST: the user cancelled (access_denied to the client)
async function interaction(provider, req, res, path) {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(path);
  if (!m) return send(res, 404, page('Not found', '<h1>Not found</h1>'));
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return send(res, 400, page('Sign-in expired', `<h1>Sign-in expired</h1>
<p class="error" data-oidc-error>This sign-in request is unknown or has expired (${esc(err.message)}). Start again from the application.</p>`));
  }
  const { uid, prompt, params, session, grantId } = details;
  if (uid !== m[1]) return send(res, 400, page('Error', '<p class="error" data-oidc-error>interaction mismatch</p>'));
  const action = m[2] ?? '';

  if (action === '' && req.method === 'GET') {
    if (prompt.name === 'login') {
      return send(res, 200, loginPage(uid, params.client_id, params.login_hint ?? '', ''));
    }
    if (prompt.name === 'consent') {
      // Consent is granted at once for whatever the client asked (openid email profile).
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scope] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
      const result = { consent: { grantId: await grant.save() } };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    }
    return send(res, 501, page('Error', `<p class="error" data-oidc-error>prompt ${esc(prompt.name)} not supported</p>`));
  }

  if (action === '/login' && req.method === 'POST' && prompt.name === 'login') {
    const form = await formBody(req);
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const user = byEmail.get(email);
    // Check a password even for an unknown e-mail, so both take the same time.
    const ok = passwordMatches(user ?? { password: crypto.randomBytes(16).toString('hex') }, form.get('password'));
    if (!user || !ok) {
      process.stderr.write(`oidc-dev: login refused for ${JSON.stringify(email)}\n`);
      return send(res, 401, loginPage(uid, params.client_id, email, 'Wrong e-mail or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } },
      { mergeWithLastSubmission: false });
  }

  if (action === '/abort' && req.method === 'POST') {
    return provider.interactionFinished(req, res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false });
  }
  return send(res, 405, page('Error', '<p class="error" data-oidc-error>method not allowed</p>'));
}

// --- start ---------------------------------------------------------------------

let provider;
let providerCallback;
const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  res.on('finish', () => process.stderr.write(`oidc-dev: ${req.method} ${path} ${res.statusCode}\n`));
  if (!provider) return send(res, 503, 'starting');
  if (path === '/interaction' || path.startsWith('/interaction/')) {
    return interaction(provider, req, res, path).catch((err) => {
      process.stderr.write(`oidc-dev: interaction error: ${err.stack ?? err}\n`);
      if (!res.headersSent) send(res, 500, page('Error', '<p class="error" data-oidc-error>internal error</p>'));
    });
  }
  return providerCallback(req, res);
});

server.on('error', (err) => die(`cannot listen on ${host}:${port}: ${err.message}`));
server.listen(port, host, () => {
  const bound = server.address().port;
  const h = host.includes(':') ? `[${host}]` : host;
  issuer = issuer ?? `http://${h}:${bound}`;
  try {
    provider = makeProvider(issuer);
  } catch (err) {
    die(`bad configuration: ${err.message}`);
  }
  for (const ev of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'end_session.error']) {
    provider.on(ev, (ctx, err) => process.stderr.write(
      `oidc-dev: ${ev}: ${err.name}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}\n`));
  }
  providerCallback = provider.callback();
  process.stdout.write(`oidc-dev listening on ${issuer}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
