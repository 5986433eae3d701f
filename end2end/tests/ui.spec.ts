import { expect, request as http, test } from '@playwright/test';

import { signIn } from './helpers';
import { ports, url } from './servers';

// Issue 8, scenario 9: toasts, the header on every page, the theme, the phone layout,
// a quiet signed-out first visit, and a cold start that waits for other tabs only when
// there are any. Main server (3 s access tokens).

test.use({ baseURL: url(ports.main) });

test('toasts: signed out in another tab, reconnecting and back online, revoked from another device', async ({
  context,
  baseURL,
}) => {
  const a = await context.newPage();
  await signIn(a);
  const b = await context.newPage();
  await b.goto('/');
  await expect(b.getByTestId('username')).toHaveText('alice');

  // The live region is there and polite.
  await expect(b.getByTestId('toasts')).toHaveAttribute('aria-live', 'polite');

  // Offline, then back. Both tabs were told; one refreshes and the other adopts its
  // token, and both must say it is over (the adopting tab sends no request of its own).
  await context.setOffline(true);
  for (const tab of [a, b]) {
    await expect(tab.getByTestId('toast').filter({ hasText: 'Reconnecting' })).toBeVisible({ timeout: 6_000 });
    await expect(tab.getByTestId('reconnecting')).toBeVisible();
  }
  await context.setOffline(false);
  for (const tab of [a, b]) {
    await expect(tab.getByTestId('toast').filter({ hasText: 'Back online' })).toBeVisible({ timeout: 3_000 });
    await expect(tab.getByTestId('reconnecting')).toBeHidden();
  }

  // Logged out in A: B says so.
  await a.getByTestId('logout').click();
  await expect(b).toHaveURL(/\/login/);
  await expect(b.getByTestId('toast').filter({ hasText: 'You signed out in another tab' })).toBeVisible();

  // Revoked from another device (a second client, through the API).
  await signIn(a);
  const other = await http.newContext({ baseURL });
  const login = await other.post('/api/auth/login', { data: { username: 'alice', password: 'alice-password' } });
  const { access_token } = await login.json();
  const auth = { Authorization: `Bearer ${access_token}` };
  const sessions: { id: string; current: boolean }[] = await (await other.get('/api/auth/sessions', { headers: auth })).json();
  for (const s of sessions.filter((s) => !s.current)) {
    expect((await other.delete(`/api/auth/sessions/${s.id}`, { headers: auth })).status()).toBe(204);
  }
  await expect(a).toHaveURL(/\/login/, { timeout: 8_000 });
  await expect(a.getByTestId('toast').filter({ hasText: 'signed out from another device' })).toBeVisible();
  await other.post('/api/auth/logout', { headers: auth });
  await other.dispose();
});

test('the countdown and "Log out" are in the header on every page', async ({ page }) => {
  await signIn(page);
  for (const link of ['Sessions', 'Password', 'Dashboard']) {
    await page.getByRole('link', { name: link, exact: true }).click();
    const header = page.locator('header');
    await expect(header.getByTestId('countdown')).toHaveText(/\d+:\d\d$/);
    await expect(header.getByRole('button', { name: 'Log out', exact: true })).toBeVisible();
  }
  await expect(page.getByTestId('me-checks')).not.toHaveText(/1 times/);
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

test('the theme toggle follows a system change, and its first click switches', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto('/login');
  const toggle = page.getByTestId('theme-toggle');
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await page.evaluate(() => localStorage.removeItem('theme'));
});

test('on a phone, who is signed in, the countdown and "Log out" are all shown in the header', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await signIn(page);
  const header = page.locator('header');
  for (const id of ['signed-in-as', 'countdown', 'logout']) await expect(header.getByTestId(id)).toBeVisible();
  // Nothing of the header's end sits below the page heading.
  const heading = await page.getByRole('heading', { level: 1 }).boundingBox();
  const logout = await header.getByTestId('logout').boundingBox();
  expect(logout!.y).toBeLessThan(heading!.y);
  await header.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

test('a signed-out first visit makes no auth request and logs no console error', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors: string[] = [];
  const auth: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => new URL(r.url()).pathname.startsWith('/api/auth') && auth.push(r.url()));
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('#username')).toBeVisible();
  await page.waitForTimeout(500);
  expect(auth).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});

test('a signed-out visitor gets the sign-in page without waiting for the tabs to answer', async ({
  browser,
  baseURL,
}) => {
  const context = await browser.newContext({ baseURL });
  // "Is another tab there?" never answers: the page must not wait for it to show.
  await context.addInitScript(() => {
    navigator.locks.query = () => new Promise(() => {});
  });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('#username')).toBeVisible();
  await expect(page.getByTestId('restoring')).toHaveCount(0);
  await context.close();
});

test('a cold start asks other tabs only when there is another tab', async ({ context }) => {
  // A listener on the app's channel in every page, as another tab would hear it.
  await context.addInitScript(() => {
    const heard: string[] = [];
    (window as any).__heard = heard;
    new BroadcastChannel('auth').onmessage = (e) => {
      try {
        // Externally tagged: "hello", or {"token": {...}}.
        const message = JSON.parse(e.data);
        heard.push(typeof message === 'string' ? message : Object.keys(message)[0]);
      } catch {
        /* not ours */
      }
    };
  });
  const a = await context.newPage();
  await signIn(a);
  await a.reload();
  await expect(a.getByTestId('username')).toHaveText('alice');
  // Alone: restored from the cookie at once, nobody asked.
  expect(await a.evaluate(() => (window as any).__heard)).not.toContain('hello');

  const b = await context.newPage();
  await b.goto('/');
  await expect(b.getByTestId('username')).toHaveText('alice');
  // B asked, and A (whose listener hears B) answered with the token.
  expect(await a.evaluate(() => (window as any).__heard)).toContain('hello');
  await b.getByTestId('logout').click();
  await expect(b).toHaveURL(/\/login/);
});

test('links, Back and Forward move within the page; the guard and ?next= go round the login page', async ({
  page,
}) => {
  // A deep link while signed out: to the login page, and back there after signing in.
  await page.goto('/password');
  await expect(page).toHaveURL(/\/login\?next=%2Fpassword$/);
  const entries = () => page.evaluate(() => history.length);
  const atLogin = await entries();
  await page.locator('#username').fill('alice');
  await page.locator('#password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/password$/);
  await expect(page.getByRole('heading', { name: 'Change password' })).toBeVisible();
  // Both redirects replaced the entry: Back cannot land on the login page.
  expect(await entries()).toBe(atLogin);
  await expect(page.locator('[aria-current="page"]')).toHaveText('Password');

  // From here on nothing loads a page: a marker on `window` survives every move.
  await page.evaluate(() => ((window as any).stillTheSamePage = true));
  const nav = page.getByTestId('nav');
  await nav.getByRole('link', { name: 'Sessions', exact: true }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();
  await expect(nav.locator('[aria-current="page"]')).toHaveText('Sessions');
  // The link to the page already shown adds no entry (Back would seem to do nothing).
  const onSessions = await entries();
  await nav.getByRole('link', { name: 'Sessions', exact: true }).click();
  expect(await entries()).toBe(onSessions);
  await nav.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await expect(page.getByRole('heading', { name: /Welcome/ })).toBeVisible();
  await expect(nav.locator('[aria-current="page"]')).toHaveText('Dashboard');

  await page.goBack();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/password$/);
  await expect(page.getByRole('heading', { name: 'Change password' })).toBeVisible();
  await page.goForward();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();

  // The skip link is the browser's jump within the page: the next Tab lands in the
  // content (a router's navigation would leave the focus where it was).
  await page.getByRole('link', { name: 'Skip to content' }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/sessions#main$/);
  await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => !!document.activeElement?.closest('#main'))).toBe(true);

  expect(await page.evaluate(() => (window as any).stillTheSamePage)).toBe(true);

  // A typed address with a trailing slash is the same page.
  await page.goto('/sessions/');
  await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();
  // An address the app does not know says so, with a way back.
  await page.goto('/no/such/page');
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await page.getByRole('link', { name: 'Go to the dashboard' }).click();
  await expect(page.getByRole('heading', { name: /Welcome/ })).toBeVisible();
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});
