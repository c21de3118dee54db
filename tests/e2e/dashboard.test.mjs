// The dashboard in a real browser against a real stack (tests/e2e/run.sh):
// sign-in (single sign-on and API key), search, dataset, lineage graph,
// schema diff, API keys, role-based pages, the platform admin's console.
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { call, e2e, env, signInWithKey, uniq, useBrowser } from './support.mjs';

useBrowser();

e2e('signs in through the development OpenID provider', async (page) => {
  await page.goto('/datasets/default/orders_daily');
  await page.waitForURL('**/signin');
  await page.getByLabel('Organisation').fill('demo');
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
  const form = page.locator('form[data-oidc-login]');
  await form.waitFor();
  await form.locator('input[name=email]').fill(env.user);
  await form.locator('input[name=password]').fill(env.password);
  await form.locator('button[type=submit]').click();
  // A consent form may follow on the provider; accept it.
  const consent = page.locator('form[action*="/interaction/"]:not([action$="/abort"]) button[type=submit]');
  await Promise.race([page.waitForURL(`${env.api}/**`), consent.first().waitFor()]);
  if (!page.url().startsWith(env.api)) await consent.first().click();
  await page.waitForURL(`${env.api}/datasets/default/orders_daily`);
  await page.getByRole('heading', { name: 'orders_daily' }).waitFor();
  await assert.doesNotReject(page.getByText(`${env.user} · demo (admin)`).waitFor());
  // A cookie session's change carries the CSRF token: creating a personal key works.
  await page.goto('/settings/keys');
  await page.locator('input[name=key_name]').fill(`sso-${uniq()}`);
  await page.getByRole('button', { name: 'Create key' }).click();
  assert.match(await page.getByTestId('new-key-secret').innerText(), /^mf_/);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).waitFor();
});

e2e('searches with a typo and autocompletes', async (page) => {
  await signInWithKey(page, env.adminKey);
  const box = page.getByRole('combobox', { name: 'Search the catalog' });
  await box.fill('orders_da');
  await page.getByRole('option', { name: /orders_daily/ }).first().waitFor();
  await box.fill('ordrs');
  await box.press('Enter');
  await page.waitForURL('**/search?q=ordrs');
  const first = page.locator('.result').first();
  await first.waitFor();
  assert.match(await page.getByTestId('search-total').innerText(), /\d+ results? for “ordrs”/);
  assert.ok(await page.locator('.result mark').count() > 0, 'highlights in the results');
  // A facet narrows the search and lands in the URL.
  await page.locator('.facet', { hasText: 'sales' }).first().locator('input').check();
  await page.waitForURL(/domain=sales/);
  // the filtered answer replaces the unfiltered results: wait for it rather than read the old list
  await page.waitForFunction(() => {
    const results = [...document.querySelectorAll('.result')];
    return results.length > 0 && results.every((r) => /sales/.test(r.innerText));
  });
  for (const text of await page.locator('.result').allInnerTexts()) assert.match(text, /sales/);
});

e2e('opens a dataset from the search results', async (page) => {
  await signInWithKey(page, env.adminKey);
  await page.goto('/search?q=orders_daily');
  await page.getByRole('link', { name: 'orders_daily', exact: true }).first().click();
  await page.getByRole('heading', { name: 'orders_daily' }).waitFor();
  const facts = await page.locator('.facts').first().innerText();
  assert.match(facts, /Owner\s+analytics-eng@example\.com/);
  assert.match(facts, /Domain\s+sales/);
  await page.getByRole('tab', { name: 'Schema' }).click();
  await page.waitForURL('**?tab=schema');
  assert.ok(await page.locator('tbody tr').count() >= 3, 'the schema lists the fields');
});

e2e('shows the classes of a field on the schema tab', async (page) => {
  const name = `e2e_pii_${uniq()}`;
  await call(env.adminKey, 'POST', '/api/v1/datasets', {
    name, fields: [{ name: 'id', type: 'bigint' }, { name: 'customer_email', type: 'text' }],
  });
  await signInWithKey(page, env.adminKey);
  await page.goto(`/datasets/default/${name}?tab=schema`);
  const badge = page.locator('tr', { hasText: 'customer_email' }).locator('[data-class="pii.email"]');
  await badge.waitFor();
  assert.equal(await badge.innerText(), 'pii.email?'); // suggested by the name rule, not yet verified
  assert.equal(await page.locator('tr', { hasText: 'bigint' }).locator('[data-class]').count(), 0);
});

e2e('renders the lineage graph and expands a node', async (page) => {
  await signInWithKey(page, env.adminKey);
  await page.goto('/lineage?node=dataset:default:orders_daily&depth=1&direction=up');
  const graph = page.getByTestId('lineage-graph');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=lineage-graph]')?.dataset.rendered) > 1);
  const before = Number(await graph.getAttribute('data-rendered'));
  assert.ok(await graph.locator('canvas').count() > 0, 'Cytoscape draws on canvas');
  await page.getByLabel('Select a node').selectOption({ label: 'stg_orders (dataset)' });
  await page.getByRole('button', { name: 'Expand' }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=lineage-graph]')?.dataset.rendered) > n, before);
  await page.getByRole('button', { name: 'Collapse' }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=lineage-graph]')?.dataset.rendered) === n, before);
  await page.getByRole('button', { name: 'Highlight impact' }).click();
  assert.match(await page.getByLabel('Selected node').innerText(), /downstream in this graph/);
});

e2e('shows a breaking change in the schema diff', async (page) => {
  const name = `e2e_diff_${uniq()}`;
  const fields = [{ name: 'id', type: 'bigint', nullable: false }, { name: 'amount', type: 'numeric' }, { name: 'note', type: 'text' }];
  await call(env.adminKey, 'POST', '/api/v1/datasets', { name, fields });
  await call(env.adminKey, 'PUT', `/api/v1/datasets/${name}`, {
    name, fields: [{ name: 'id', type: 'text', nullable: false }, { name: 'note', type: 'text' }, { name: 'added_at', type: 'timestamp' }],
  });
  await signInWithKey(page, env.adminKey);
  await page.goto(`/datasets/default/${name}?tab=versions`);
  await page.getByText('Breaking changes: 1 added, 1 removed, 1 changed.').waitFor();
  assert.equal(await page.locator('tr[data-state=removed]').innerText().then((t) => /amount[\s\S]*breaking: removed/.test(t)), true);
  assert.match(await page.locator('.diff-side').nth(1).locator('tr[data-state=changed]').innerText(), /breaking: type bigint → text/);
  assert.match(await page.locator('tr[data-state=added]').innerText(), /added_at/);
});

e2e('creates an API key, shows its secret once and revokes it', async (page) => {
  await signInWithKey(page, env.adminKey);
  await page.goto('/settings/keys');
  const name = `e2e-key-${uniq()}`;
  await page.locator('input[name=key_name]').fill(name);
  await page.getByLabel('Key role').selectOption('viewer');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = await page.getByTestId('new-key-secret').innerText();
  assert.match(secret, /^mf_[a-z]+_[0-9a-f]{12}_[0-9a-f]{64}$/);
  assert.equal((await call(secret, 'GET', '/api/v1/me')).body.role, 'viewer');
  await page.getByRole('button', { name: 'Done' }).click();
  assert.equal(await page.getByTestId('new-key-secret').count(), 0, 'the secret is shown once');
  page.once('dialog', (d) => d.accept());
  const row = page.locator(`tr[data-key-name="${name}"]`);
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByText('revoked').waitFor();
  await call(secret, 'GET', '/api/v1/me', undefined, [401]);
});

e2e('a viewer does not see the admin pages', async (page) => {
  const { body } = await call(env.adminKey, 'POST', '/api/v1/api-keys', { name: `e2e-viewer-${uniq()}`, role: 'viewer', type: 'service' });
  await signInWithKey(page, body.key);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'API keys' }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Settings' }).count(), 0);
  await page.goto('/settings/keys');
  const sub = page.getByRole('navigation', { name: 'Settings' });
  await sub.getByRole('link', { name: 'API keys' }).waitFor();
  assert.deepEqual(await sub.getByRole('link').allInnerTexts(), ['API keys']);
  for (const p of ['members', 'audit', 'sso', 'invitations']) {
    await page.goto(`/settings/${p}`);
    await page.getByText('This page needs the tenant admin role.').waitFor();
  }
  await page.goto('/admin/tenants');
  await page.getByText('The admin console needs a platform role.').waitFor();
});

e2e('a platform admin suspends and reactivates a tenant', async (page) => {
  const name = `e2e-${uniq()}`;
  const { body } = await call(env.platformKey, 'POST', '/api/v1/admin/tenants', { name, plan: 'team' });
  const tenantKey = body.api_key;
  await signInWithKey(page, env.platformKey);
  await page.waitForURL('**/admin/tenants');
  const row = page.locator(`tr[data-tenant="${name}"]`);
  await row.getByTestId('tenant-status').getByText('active').waitFor();
  page.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: 'Suspend' }).click();
  await row.getByTestId('tenant-status').getByText('suspended').waitFor();
  const refused = await call(tenantKey, 'GET', '/api/v1/me', undefined, [403]);
  assert.equal(refused.body.error.code, 'tenant_suspended');
  await row.getByRole('button', { name: 'Reactivate' }).click();
  await row.getByTestId('tenant-status').getByText('active').waitFor();
  await call(tenantKey, 'GET', '/api/v1/me');
});

e2e('works at phone width', async (page) => {
  await signInWithKey(page, env.adminKey);
  await page.goto('/datasets/default/orders_daily');
  await page.getByRole('heading', { name: 'orders_daily' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling (overflow ${overflow}px)`);
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Glossary' }).click();
  await page.getByRole('heading', { name: 'Glossary' }).waitFor();
}, { width: 390, height: 844 });

e2e('keyboard: the search suggestions are reachable with the arrow keys', async (page) => {
  await signInWithKey(page, env.adminKey);
  const box = page.getByRole('combobox', { name: 'Search the catalog' });
  await box.fill('orders_da');
  await page.getByRole('option', { name: /orders_daily/ }).first().waitFor();
  const options = await page.getByRole('option').allInnerTexts();
  const index = options.findIndex((t) => /orders_daily/.test(t) && /dataset/i.test(t));
  for (let i = 0; i <= index; i++) await box.press('ArrowDown');
  await box.press('Enter');
  await page.getByRole('heading', { name: 'orders_daily' }).waitFor();
});

e2e('sets a freshness policy and reads usage on the dataset page', async (page) => {
  const name = `e2e_fresh_${uniq()}`;
  await call(env.adminKey, 'POST', '/api/v1/datasets', { name, fields: [{ name: 'id', type: 'bigint' }] });
  await signInWithKey(page, env.adminKey);
  await page.goto(`/datasets/default/${name}?tab=freshness`);
  await page.getByText('No freshness policy').waitFor();
  await page.getByLabel('Updated every (hours)').fill('2');
  await page.getByRole('button', { name: 'Set policy' }).click();
  await page.getByTestId('freshness-status').getByText('fresh').waitFor();
  assert.match(await page.locator('.facts').innerText(), /Expected\s+every 2 h/);
  await page.getByRole('tab', { name: 'Usage' }).click();
  await page.getByRole('img', { name: /Reads per day: 30 days/ }).waitFor();
});

e2e('the health dashboard and a webhook', async (page) => {
  await signInWithKey(page, env.adminKey);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Health' }).click();
  await page.getByRole('heading', { name: 'Catalog health' }).waitFor();
  assert.match(await page.getByTestId('health-summary').innerText(), /Datasets\s+\d+/);
  await page.getByRole('img', { name: /Stale datasets per day/ }).waitFor();
  await page.goto('/settings/webhooks');
  const url = `http://127.0.0.1:9/e2e-${uniq()}`;
  await page.getByLabel('URL').fill(url);
  await page.getByLabel('Signing secret').fill('a-signing-secret-of-e2e');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  const card = page.locator('li.card', { hasText: url });
  await card.waitFor();
  await card.getByRole('button', { name: 'Deliveries' }).click();
  await card.getByText('No deliveries yet.').waitFor();
  page.once('dialog', (d) => d.accept());
  await card.getByRole('button', { name: 'Delete' }).click();
  await card.waitFor({ state: 'detached' });
});

e2e('a platform admin reads plans and invoices', async (page) => {
  await signInWithKey(page, env.platformKey);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Plans' }).click();
  await page.getByRole('columnheader', { name: 'enterprise' }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Invoices' }).click();
  await page.getByRole('cell', { name: 'demo', exact: true }).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  assert.match(download.suggestedFilename(), /^invoices-\d{4}-\d{2}\.csv$/);
  const text = fs.readFileSync(await download.path(), 'utf8');
  assert.match(text, /demo/);
});

// A Great Expectations validation result (0.18) of `asset` with `failed` failing rows.
function geResult(asset, runTime, failed) {
  const expectation = (type, column, success, unexpected) => ({
    success,
    expectation_config: { expectation_type: type, kwargs: { column }, meta: {} },
    result: { element_count: 100, unexpected_count: unexpected, unexpected_percent: unexpected },
    exception_info: { raised_exception: false },
    meta: {},
  });
  return {
    success: failed === 0,
    results: [
      expectation('expect_column_values_to_not_be_null', 'id', true, 0),
      expectation('expect_column_values_to_be_between', 'amount', failed === 0, failed),
    ],
    evaluation_parameters: {},
    statistics: { evaluated_expectations: 2, successful_expectations: failed ? 1 : 2, unsuccessful_expectations: failed ? 1 : 0 },
    meta: {
      great_expectations_version: '0.18.8',
      expectation_suite_name: 'e2e.critical',
      run_id: { run_name: 'nightly', run_time: runTime },
      batch_spec: { data_asset_name: asset },
      active_batch_definition: { datasource_name: 'pg', data_connector_name: 'default', data_asset_name: asset, batch_identifiers: {} },
      checkpoint_name: 'nightly',
    },
  };
}

e2e('shows quality results over time', async (page) => {
  const name = `e2e_quality_${uniq()}`;
  await call(env.adminKey, 'POST', '/api/v1/integrations/great-expectations', geResult(name, '2026-11-20T02:00:00+00:00', 0));
  await call(env.adminKey, 'POST', '/api/v1/integrations/great-expectations', geResult(name, '2026-11-21T02:00:00+00:00', 4));
  await signInWithKey(page, env.adminKey);
  await page.goto(`/datasets/default/${name}?tab=quality`);
  await page.getByRole('img', { name: /Assertions passed, result by result: 2 days/ }).waitFor();
  assert.equal(await page.locator('tr[data-quality=passed]').count(), 1);
  const failed = page.locator('tr[data-quality=failed]');
  assert.match(await failed.innerText(), /1 \/ 2 passed/);
  assert.match(await failed.innerText(), /on amount/);
  // the latest result of each check: id passed, amount failed, both of severity error
  assert.equal(await page.getByTestId('quality-score').innerText(), 'Quality score 50 / 100: 1 of 2 checks failing');
});
