#!/usr/bin/env node
// A person's single sign-on, in a real browser: Debian's /usr/bin/chromium
// driven by playwright-core (never a downloaded browser).
//
// Opens START_URL (a relying party's login route, e.g. mf-api's
// /auth/login?tenant=demo), fills the development OpenID Provider's login form
// (tools/oidc-dev) with EMAIL and PASSWORD, clicks through any consent form,
// waits to be back on the relying party (the origin of START_URL), then
// fetches /api/v1/me from inside the page (credentials: include) and prints
// its JSON on stdout, one line. Anything else goes to stderr.
//
// Usage:
//   node tests/browser/sso_login.mjs START_URL EMAIL PASSWORD [options]
//   (or --start URL --email E --password P; or env SSO_START_URL, SSO_EMAIL,
//    SSO_PASSWORD, SSO_EXPECT_JSON, SSO_EXPECT_TEXT)
// Options:
//   --expect-json JSON   /me must contain these keys with these values (a subset match)
//   --expect-text TEXT   the landing page's text must contain TEXT
//   --me-path PATH       what to fetch after landing (default /api/v1/me)
//   --no-me              do not fetch it; print {"url": <landing URL>, "title": ...} instead
//   --landing PREFIX     where the walk ends: the first page whose URL starts with PREFIX
//                        (default: the origin of START_URL, i.e. the relying party)
//   --expect-refused     the login must be refused (the form comes back with an
//                        error); prints {"refused": "<message>"}
//   --timeout MS         for the whole walk (default 30000)
// Exit status: 0 on success, 1 when a check fails (with the reason on
// stderr), 2 on bad usage.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.SSO_CHROMIUM ?? '/usr/bin/chromium';
// The flags that work on these machines (shared STACK.md, "Browser tests").
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function usage(msg) {
  process.stderr.write(`sso_login: ${msg}\nusage: node tests/browser/sso_login.mjs START_URL EMAIL PASSWORD `
    + '[--expect-json JSON] [--expect-text TEXT] [--me-path PATH] [--no-me] [--landing PREFIX] [--expect-refused] [--timeout MS]\n');
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      start: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      'expect-json': { type: 'string' },
      'expect-text': { type: 'string' },
      'me-path': { type: 'string', default: '/api/v1/me' },
      'no-me': { type: 'boolean', default: false },
      landing: { type: 'string' },
      'expect-refused': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30000' },
    },
  });
} catch (err) {
  usage(err.message);
}
const o = args.values;
const [pStart, pEmail, pPassword] = args.positionals;
const startUrl = o.start ?? pStart ?? process.env.SSO_START_URL;
const email = o.email ?? pEmail ?? process.env.SSO_EMAIL;
const password = o.password ?? pPassword ?? process.env.SSO_PASSWORD;
const expectJson = o['expect-json'] ?? process.env.SSO_EXPECT_JSON;
const expectText = o['expect-text'] ?? process.env.SSO_EXPECT_TEXT;
const timeoutMs = Number(o.timeout);
if (!startUrl || !email || password === undefined) usage('START_URL, EMAIL and PASSWORD are required');
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage(`bad --timeout ${o.timeout}`);
let expected;
if (expectJson) {
  try {
    expected = JSON.parse(expectJson);
  } catch (err) {
    usage(`--expect-json is not JSON: ${err.message}`);
  }
}
let landing;
try {
  landing = o.landing ?? `${new URL(startUrl).origin}/`;
} catch {
  usage(`START_URL is not a URL: ${startUrl}`);
}

class CheckFailed extends Error {}
const fail = (msg) => { throw new CheckFailed(msg); };
const log = (msg) => process.stderr.write(`sso_login: ${msg}\n`);

// subset(expected, actual): every key of expected is in actual with an equal (deep) value.
function subset(exp, act) {
  if (exp === null || typeof exp !== 'object') return exp === act;
  if (act === null || typeof act !== 'object') return false;
  return Object.keys(exp).every((k) => subset(exp[k], act[k]));
}

async function walk(page) {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const onRp = () => page.url().startsWith(landing);

  // The last main-frame navigation's response: an error page on landing fails clearly.
  let lastNav;
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) lastNav = r;
  });

  log(`opening ${startUrl}`);
  await page.goto(startUrl, { timeout: left() });
  // Redirected to the provider's login form.
  const form = page.locator('form[data-oidc-login]');
  try {
    await form.waitFor({ timeout: left() });
  } catch {
    const text = await page.locator('body').innerText().catch(() => '');
    fail(`no login form after opening ${startUrl}; at ${page.url()}:\n${text.slice(0, 1000)}`);
  }
  log(`login form at ${new URL(page.url()).origin}`);
  await form.locator('input[name=email]').fill(email);
  await form.locator('input[name=password]').fill(password);
  await Promise.all([
    page.waitForNavigation({ timeout: left() }),
    form.locator('button[type=submit]').click({ timeout: left() }),
  ]);

  // Now: back on the relying party, the form again with an error, or a consent form.
  for (;;) {
    if (Date.now() > deadline) fail(`not back on ${landing} after ${timeoutMs} ms; at ${page.url()}`);
    await page.waitForLoadState('load', { timeout: left() });
    if (onRp()) break;
    const error = page.locator('[data-oidc-error]');
    if (await error.count()) {
      const text = (await error.first().innerText()).trim();
      if (o['expect-refused'] && await page.locator('form[data-oidc-login]').count()) {
        return { refused: text };
      }
      fail(`the provider refused: ${text} (at ${page.url()})`);
    }
    const consent = page.locator('form[action*="/interaction/"]:not([action$="/abort"]) button[type=submit]');
    if (!(await page.locator('form[data-oidc-login]').count()) && await consent.count()) {
      log('consent form: accepting');
      await Promise.all([page.waitForNavigation({ timeout: left() }), consent.first().click()]);
      continue;
    }
    await page.waitForTimeout(100);
  }
  if (o['expect-refused']) fail(`the login was expected to be refused, but it landed on ${page.url()}`);
  log(`landed on ${page.url()}`);
  if (lastNav && lastNav.url() === page.url() && lastNav.status() >= 400) {
    const text = await page.locator('body').innerText().catch(() => '');
    fail(`the relying party answered ${lastNav.status()} at ${page.url()}: ${text.slice(0, 1000)}`);
  }

  if (expectText !== undefined) {
    const text = await page.locator('body').innerText();
    if (!text.includes(expectText)) fail(`the landing page lacks ${JSON.stringify(expectText)}:\n${text.slice(0, 2000)}`);
  }
  if (o['no-me']) return { url: page.url(), title: await page.title() };

  const me = await page.evaluate(async (mePath) => {
    const r = await fetch(mePath, { credentials: 'include', headers: { Accept: 'application/json' } });
    return { status: r.status, text: await r.text() };
  }, o['me-path']);
  if (me.status !== 200) fail(`GET ${o['me-path']} answered ${me.status}: ${me.text.slice(0, 1000)}`);
  let body;
  try {
    body = JSON.parse(me.text);
  } catch {
    fail(`GET ${o['me-path']} is not JSON: ${me.text.slice(0, 1000)}`);
  }
  if (expected !== undefined && !subset(expected, body)) {
    fail(`GET ${o['me-path']} = ${JSON.stringify(body)} does not contain ${JSON.stringify(expected)}`);
  }
  return body;
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    log(`${CHROMIUM} not found: install Debian's chromium (scripts/deps.sh)`);
    return 1;
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-sso-chromium-'));
  let context;
  try {
    // A persistent context is how playwright takes a --user-data-dir: a fresh one each run.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      timeout: timeoutMs,
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    const out = await walk(page);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  } catch (err) {
    log(err instanceof CheckFailed ? `FAILED: ${err.message}` : `FAILED: ${err.stack ?? err}`);
    return 1;
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

process.exitCode = await main();
