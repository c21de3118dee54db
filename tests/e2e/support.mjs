// Shared by the dashboard's end-to-end tests: the stack's environment (from
// `scripts/stack.sh up`, see run.sh), Debian's Chromium through
// playwright-core, sign-in helpers, API calls for test data, and a
// screenshot of every failed test in E2E_SHOT_DIR.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
// The flags that work on these machines (shared STACK.md, "Browser tests").
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through tests/e2e/run.sh (or load a stack's env file)`);
  return v;
}

export const env = {
  api: need('MF_API_URL'),
  tenant: need('MF_DEMO_TENANT'),
  adminKey: need('MF_DEMO_API_KEY'),
  platformKey: need('MF_PLATFORM_ADMIN_KEY'),
  user: need('MF_DEMO_USER'),
  password: need('MF_DEMO_PASSWORD'),
};
export const shotDir = process.env.E2E_SHOT_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mf-e2e-shots-'));
// Generous: CI machines are shared, and sanitizer builds are several times slower.
export const TIMEOUT = 30000;

/** A unique suffix for names this run creates. */
export const uniq = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** One REST call with an API key; throws on an unexpected status. */
export async function call(key, method, urlPath, body, expect = [200, 201, 204]) {
  const res = await fetch(env.api + urlPath, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${urlPath} answered ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

let browser;

/**
 * Opens one browser for the file's tests (playwright gives it a fresh
 * temporary profile); each test gets a fresh context.
 */
export function useBrowser() {
  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/deps.sh)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  });
  after(async () => {
    await browser?.close();
  });
}

/** A test with a fresh page; on failure the page's screenshot is kept in shotDir. */
export function e2e(name, body, { width = 1280, height = 860 } = {}) {
  test(name, async () => {
    const context = await browser.newContext({ baseURL: env.api, viewport: { width, height } });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    try {
      await body(page);
      // The pages run under a 'self'-only Content-Security-Policy: a violation is a bug.
      const csp = errors.filter((e) => /Content Security Policy/i.test(e));
      if (csp.length) throw new Error(`CSP violations: ${csp.join('; ')}`);
    } catch (err) {
      fs.mkdirSync(shotDir, { recursive: true });
      const file = path.join(shotDir, `${name.replace(/[^a-z0-9]+/gi, '_')}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      err.message += `\n  screenshot: ${file}\n  page errors: ${JSON.stringify(errors)}`;
      throw err;
    } finally {
      await context.close();
    }
  });
}

/** Signs in on the sign-in page with an API key; waits for the signed-in shell. */
export async function signInWithKey(page, key) {
  await page.goto('/signin');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in with API key' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
