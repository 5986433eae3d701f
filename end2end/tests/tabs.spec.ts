import { expect, test, type BrowserContext, type Page } from '@playwright/test';

import { signIn } from './helpers';

// Several tabs of one browser: pages of one context share the refresh cookie, the
// BroadcastChannel and the Web Locks, exactly like tabs. The server runs with
// ACCESS_TTL=3s (serve.sh), so every couple of seconds one refresh is due.

/** Counts `POST /api/auth/refresh` across every tab of the context. */
function watchRefreshes(context: BrowserContext) {
  const requests: string[] = [];
  const statuses: number[] = [];
  context.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/auth/refresh') requests.push(request.url());
  });
  context.on('response', (response) => {
    if (new URL(response.url()).pathname === '/api/auth/refresh') statuses.push(response.status());
  });
  return { requests, statuses };
}

/** Counts full page loads, so a test can tell a reload from a client-side navigation. */
function countLoads(page: Page) {
  const loads = { count: 0 };
  page.on('load', () => loads.count++);
  return loads;
}

test('two tabs stay signed in with one refresh per expiry, not one per tab', async ({ context }) => {
  const seen = watchRefreshes(context);
  const a = await context.newPage();
  const login = a.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/login');
  await signIn(a);
  // The lifetime the client schedules by (the server keeps a second of it in hand).
  const expiresIn: number = (await (await login).json()).expires_in;
  expect(expiresIn).toBeGreaterThan(0);
  // Before the sign-in, the start-up refresh found no cookie (401): that is expected.
  const statusesSignedIn = seen.statuses.length;

  // A second tab asks the first for its token instead of refreshing on its own.
  const b = await context.newPage();
  await b.goto('/');
  await expect(b.getByTestId('username')).toHaveText('alice');

  const before = seen.requests.length;
  const statusesBefore = seen.statuses.length;
  const started = Date.now();
  await a.waitForTimeout(10_000);
  const seconds = (Date.now() - started) / 1000;

  const refreshes = seen.requests.length - before;
  // A refresh is due a margin (20 % of the lifetime) before expiry.
  const expiries = Math.ceil(seconds / (expiresIn * 0.8));
  test.info().annotations.push({ type: 'refreshes', description: `${refreshes} in ${seconds.toFixed(1)} s` });
  // One tab refreshing alone does one per expiry (~7 here, with 2 of slack for a slow
  // machine); two tabs each refreshing would do twice that (~13).
  expect(refreshes).toBeGreaterThanOrEqual(2);
  expect(refreshes).toBeLessThanOrEqual(expiries + 2);
  expect(seen.statuses.slice(statusesBefore).filter((s) => s !== 200)).toEqual([]);
  // From the sign-in on, including the second tab's start: never a failed refresh.
  expect(seen.statuses.slice(statusesSignedIn).filter((s) => s !== 200)).toEqual([]);

  for (const page of [a, b]) {
    await expect(page.getByTestId('username')).toHaveText('alice');
    await expect(page.getByTestId('error')).toHaveCount(0);
    expect(Number(await page.getByTestId('me-checks').getAttribute('data-count'))).toBeGreaterThanOrEqual(4);
  }

  // Handing tokens over never puts them in storage.
  const stored = await b.evaluate(
    () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie,
  );
  expect(stored).not.toMatch(/eyJ/);
});

test('logging out in one tab signs out the other, without a reload', async ({ context }) => {
  const a = await context.newPage();
  await signIn(a);
  const b = await context.newPage();
  await b.goto('/');
  await expect(b.getByTestId('username')).toHaveText('alice');
  const bLoads = countLoads(b);

  await a.getByTestId('logout').first().click();
  await expect(a).toHaveURL(/\/login/);
  await expect(b).toHaveURL(/\/login/, { timeout: 2_000 });
  await expect(b.getByTestId('notice')).toContainText('You signed out');
  await expect(b.locator('#username')).toBeVisible();
  expect(bLoads.count).toBe(0);
});

test('signing in in one tab signs in the other, which leaves the login page', async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  const managerFetched: string[] = [];
  b.on('request', (r) => /\/split_signed_in-/.test(r.url()) && managerFetched.push(r.url()));
  await b.goto('/');
  await expect(b).toHaveURL(/\/login/);
  await expect(b.locator('#username')).toBeVisible();
  const bLoads = countLoads(b);
  // B, untouched, has not fetched its token manager: A's sign-in message brings it.
  await b.waitForLoadState('networkidle');
  expect(managerFetched).toEqual([]);

  await signIn(a);
  await expect(b.getByTestId('username')).toHaveText('alice', { timeout: 3_000 });
  await expect(b).not.toHaveURL(/\/login/);
  expect(bLoads.count).toBe(0);

  // And the two keep sharing one session: a logout in B reaches A.
  await b.getByTestId('logout').first().click();
  await expect(a).toHaveURL(/\/login/, { timeout: 2_000 });
});

// The idle end is 30 minutes away on the test server, so this test shortens the session
// end in the refresh answers the app sees (the real request still goes to the server and
// rotates the cookie); everything else is the real app.
test('"Stay signed in?" appears before the session ends, is accessible, and refreshing closes it', async ({
  page,
}) => {
  await signIn(page);

  let shorten: 'idle' | 'absolute' | null = 'idle';
  await page.route('**/api/auth/refresh', async (route) => {
    const response = await route.fetch();
    if (!shorten || response.status() !== 200) {
      await route.fulfill({ response });
      return;
    }
    const body = await response.json();
    const now = Math.floor(Date.now() / 1000);
    if (shorten === 'idle') body.session.idle_expires_at = now + 90;
    else body.session.absolute_expires_at = now + 90;
    await route.fulfill({ response, json: body });
  });

  // The next proactive refresh (within ACCESS_TTL) brings the near idle end.
  const dialog = page.getByRole('dialog', { name: 'Stay signed in?' });
  await expect(dialog).toBeVisible({ timeout: 5_000 });
  await expect(dialog).toHaveAttribute('aria-modal', 'true');
  await expect(page.getByTestId('session-modal-countdown')).toHaveText(/^1:[0-3]\d$/);
  await expect(page.getByTestId('session-modal-live')).toHaveText('Your session ends in 2 minutes.');
  await expect(page.getByTestId('session-modal-live')).toHaveAttribute('aria-live', 'polite');
  await expect(page.locator('#main')).toHaveAttribute('inert', '');

  // Focus moves in and stays in.
  const stay = dialog.getByRole('button', { name: 'Stay signed in' });
  const logOut = dialog.getByRole('button', { name: 'Log out' });
  await expect(stay).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(logOut).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(stay).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(logOut).toBeFocused();

  // Escape = Stay signed in: a refresh, which (now unshortened) slides the idle end.
  shorten = null;
  const refreshed = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/auth/refresh', {
    timeout: 1_000,
  });
  await page.keyboard.press('Escape');
  await refreshed;
  await expect(dialog).toBeHidden();
  await expect(page.locator('#main')).not.toHaveAttribute('inert', '');
  await expect(page.getByTestId('username')).toHaveText('alice');

  // Near the absolute end there is nothing to stay for: only a new sign-in.
  shorten = 'absolute';
  const ending = page.getByRole('dialog', { name: 'Your session is ending' });
  await expect(ending).toBeVisible({ timeout: 5_000 });
  await expect(ending.getByRole('button', { name: 'Stay signed in' })).toHaveCount(0);
  const signInAgain = ending.getByRole('button', { name: 'Sign in again' });
  await expect(signInAgain).toBeFocused();
  await signInAgain.click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('#username')).toBeVisible();
});
