import { expect, test, type APIRequestContext, type Browser, type Page } from '@playwright/test';

import { signIn } from './helpers';

// Sessions, change password and the audit log, each with two browser contexts where a
// second device matters. The server runs with ACCESS_TTL=3s (serve.sh), so a device
// whose session ended elsewhere notices at its next refresh, within a few seconds.
// Every test ends the sessions it started, so the next one starts from none.

const SIGNED_OUT_WITHIN = { timeout: 8_000 };

/** A second, separate browser (its own cookies), signed in as `username`. */
async function otherDevice(browser: Browser, baseURL: string | undefined, username: string, password: string) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await signIn(page, { username, password });
  return { context, page };
}

async function logOut(page: Page) {
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
}

test('sessions: both devices are listed, and a revoked one is signed out', async ({ page, browser, baseURL }) => {
  await signIn(page);
  const other = await otherDevice(browser, baseURL, 'alice', 'alice-password');

  await page.getByRole('link', { name: 'Sessions' }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  const rows = page.getByTestId('session-row');
  await expect(rows).toHaveCount(2);
  // This device is marked and cannot be revoked from here; the other one can.
  const current = rows.filter({ has: page.getByTestId('this-device') });
  await expect(current).toHaveCount(1);
  await expect(current.getByTestId('revoke')).toHaveCount(0);
  await expect(current).toContainText('127.0.0.1');
  await expect(current).toContainText('Chrome');
  await expect(page.getByTestId('revoke')).toHaveCount(1);

  await page.getByTestId('revoke').click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first().getByTestId('this-device')).toBeVisible();

  // The other device finds out at its next refresh and lands on the login page.
  await expect(other.page).toHaveURL(/\/login/, SIGNED_OUT_WITHIN);
  await expect(other.page.getByTestId('notice')).toContainText('signed out from another device');
  await other.context.close();

  // This one carries on.
  await page.reload();
  await expect(rows).toHaveCount(1);
  await logOut(page);
});

test('sessions: "Log out everywhere" signs out every device', async ({ page, browser, baseURL }) => {
  await signIn(page);
  const other = await otherDevice(browser, baseURL, 'alice', 'alice-password');

  await page.goto('/sessions');
  await expect(page.getByTestId('session-row')).toHaveCount(2);
  await page.getByRole('button', { name: 'Log out everywhere' }).click();

  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByTestId('notice')).toContainText('signed out on every device');
  // The cookie is gone too: a reload does not bring the session back.
  await page.reload();
  await expect(page.locator('#username')).toBeVisible();

  await expect(other.page).toHaveURL(/\/login/, SIGNED_OUT_WITHIN);
  await other.page.reload();
  await expect(other.page.locator('#username')).toBeVisible();
  await other.context.close();
});

test('password: checked here, changed on the server, other devices signed out', async ({
  page,
  browser,
  baseURL,
  request,
}) => {
  const original = 'bob-passphrase';
  const changed = 'bob-passphrase-2';
  let restored = true;
  try {
    await signIn(page, { username: 'bob', password: original });
    const other = await otherDevice(browser, baseURL, 'bob', original);

    await page.getByRole('link', { name: 'Password' }).click();
    await expect(page).toHaveURL(/\/password$/);
    const submit = page.getByRole('button', { name: 'Change password' });

    // Checked before anything is sent.
    await page.locator('#current-password').fill(original);
    await page.locator('#new-password').fill('short');
    await page.locator('#confirm-password').fill('short');
    await submit.click();
    await expect(page.getByRole('alert')).toContainText('at least 12 characters');
    await page.locator('#new-password').fill(changed);
    await page.locator('#confirm-password').fill(`${changed}x`);
    await submit.click();
    await expect(page.getByRole('alert')).toContainText('do not match');

    // A wrong current password is refused and ends nothing.
    await page.locator('#current-password').fill('not-the-password');
    await page.locator('#confirm-password').fill(changed);
    await submit.click();
    await expect(page.getByRole('alert')).toContainText('current password is not correct');
    await expect(page).toHaveURL(/\/password$/);

    await page.locator('#current-password').fill(original);
    restored = false;
    await submit.click();
    await expect(page.getByTestId('password-changed')).toHaveText(
      'Password changed. Your other sessions were signed out.',
    );
    await expect(page.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(page.locator('#current-password')).toHaveValue('');

    // The other device is signed out; this one is not.
    await expect(other.page).toHaveURL(/\/login/, SIGNED_OUT_WITHIN);
    await expect(other.page.getByTestId('notice')).toContainText('password was changed');
    await other.context.close();
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect(page.getByTestId('username')).toHaveText('bob');
    await page.waitForTimeout(3_500); // past an access-token lifetime: refresh still works
    await expect(page.getByTestId('username')).toHaveText('bob');

    // And back, so the other tests can sign in as bob.
    await page.getByRole('link', { name: 'Password' }).click();
    await page.locator('#current-password').fill(changed);
    await page.locator('#new-password').fill(original);
    await page.locator('#confirm-password').fill(original);
    await submit.click();
    await expect(page.getByTestId('password-changed')).toBeVisible();
    restored = true;
    await logOut(page);
  } finally {
    if (!restored) await restorePassword(request, 'bob', changed, original);
  }
});

/** Puts a password back through the API when a test failed half-way. */
async function restorePassword(request: APIRequestContext, username: string, from: string, to: string) {
  const headers = { 'X-Requested-With': 'fetch' };
  const login = await request.post('/api/auth/login', {
    headers,
    data: { username, password: from, remember_me: false },
  });
  if (!login.ok()) return; // the change never happened
  const { access_token } = await login.json();
  await request.post('/api/auth/password', {
    headers: { ...headers, Authorization: `Bearer ${access_token}` },
    data: { current_password: from, new_password: to },
  });
  await request.post('/api/auth/logout', { headers: { ...headers, Authorization: `Bearer ${access_token}` } });
}

test('audit: admins see the events, everyone else is told why not', async ({ page }) => {
  const auditCalls: number[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === '/api/admin/audit') auditCalls.push(response.status());
  });

  await signIn(page);
  await page.getByRole('link', { name: 'Audit' }).click();
  await expect(page).toHaveURL(/\/admin\/audit$/);
  const rows = page.getByTestId('audit-row');
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeGreaterThan(1);
  await expect(rows.filter({ hasText: 'alice' }).filter({ hasText: 'login_succeeded' }).first()).toBeVisible();
  expect(auditCalls).toEqual([200]);
  await logOut(page);

  await signIn(page, { username: 'bob' });
  // No link for a user without the role, and the page itself explains.
  await expect(page.getByRole('link', { name: 'Sessions' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Audit' })).toHaveCount(0);
  await page.goto('/admin/audit');
  await expect(page.getByText('You need the admin role to see this.')).toBeVisible();
  await expect(page.getByTestId('audit-row')).toHaveCount(0);
  expect(auditCalls).toEqual([200]);
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
});
