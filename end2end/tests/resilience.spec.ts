import { expect, test, type Page, type Route } from '@playwright/test';

import { serverSecsToLocal, signIn, watchRefreshes } from './helpers';
import { ports, url } from './servers';

// Issue 8, scenarios 4–8: refresh under failure. The main server has 3 s access tokens
// (a refresh is due every ~2.4 s); the edge server has REFRESH_GRACE=8s and
// ABSOLUTE_TTL_SHORT=16s.

test.describe.configure({ timeout: 90_000 });

const isRefresh = (u: string) => new URL(u).pathname === '/api/auth/refresh';

/** Other tests on the main server count sessions: each test ends the one it started. */
async function logOut(page: Page) {
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
}

test.describe('main server', () => {
  test.use({ baseURL: url(ports.main) });

  test('4a. offline for 20 s: at most 6 refresh attempts, and back within a second of coming online', async ({
    context,
    page,
  }) => {
    const refreshes = watchRefreshes(context);
    await signIn(page);
    await page.waitForTimeout(1_000);

    await context.setOffline(true);
    const from = Date.now();
    await page.waitForTimeout(20_000);
    const attempts = refreshes.sent.filter((t) => t >= from).length;
    test.info().annotations.push({ type: 'attempts offline', description: String(attempts) });
    expect(attempts).toBeLessThanOrEqual(6);
    // Still signed in: being offline is not being signed out.
    await expect(page).not.toHaveURL(/\/login/);
    await expect(page.getByTestId('reconnecting')).toBeVisible();

    const back = page.waitForResponse((r) => isRefresh(r.url()) && r.status() === 200, { timeout: 1_000 });
    await context.setOffline(false);
    await back;
    await expect(page.getByTestId('reconnecting')).toHaveCount(0);
    await expect(page.getByTestId('username')).toHaveText('alice');
    await logOut(page);
  });

  test('4b. 429 with Retry-After: 10 is honoured by every caller', async ({ context, page }) => {
    await signIn(page);
    const hits: number[] = [];
    const limited = async (route: Route) => {
      hits.push(Date.now());
      await route.fulfill({
        status: 429,
        headers: { 'Retry-After': '10' },
        json: { error: 'rate_limited', message: 'Too many requests.' },
      });
    };
    await context.route('**/api/auth/refresh', limited);
    await page.waitForTimeout(20_000);
    await context.unroute('**/api/auth/refresh', limited);
    test.info().annotations.push({ type: 'refreshes in 20 s', description: String(hits.length) });
    // One at the start, one after 10 s, perhaps one at 20 s: never sooner.
    expect(hits.length).toBeGreaterThanOrEqual(1);
    expect(hits.length).toBeLessThanOrEqual(3);
    for (let i = 1; i < hits.length; i++) expect(hits[i] - hits[i - 1]).toBeGreaterThanOrEqual(9_500);
    // When the server lets it, the session carries on.
    await page.waitForResponse((r) => isRefresh(r.url()) && r.status() === 200, { timeout: 12_000 });
    await expect(page.getByTestId('username')).toHaveText('alice');
    await expect(page).not.toHaveURL(/\/login/);
    await logOut(page);
  });

  test('5. a reload while the server answers 503 (then fails to connect) keeps the user signed in', async ({
    context,
    page,
  }) => {
    await signIn(page);
    let failures = 0;
    const flaky = async (route: Route) => {
      failures++;
      if (failures === 1) await route.fulfill({ status: 503, body: 'Service Unavailable' });
      else if (failures === 2) await route.abort('connectionrefused');
      else await route.continue();
    };
    await context.route('**/api/auth/refresh', flaky);
    const seen: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) seen.push(new URL(frame.url()).pathname);
    });
    await page.reload();
    await expect(page.getByTestId('restoring')).toContainText('Reconnecting');
    await expect(page.getByTestId('username')).toHaveText('alice', { timeout: 10_000 });
    await expect(page.getByTestId('toast').filter({ hasText: 'Back online' })).toBeVisible();
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(seen.filter((p) => p.startsWith('/login'))).toEqual([]);
    await context.unroute('**/api/auth/refresh', flaky);
    await logOut(page);
  });

  test('6. a logout made offline is sent before any restore: the reload stays signed out', async ({
    context,
    page,
  }) => {
    await signIn(page);
    await context.setOffline(true);
    await page.getByTestId('logout').click();
    await expect(page).toHaveURL(/\/login/);
    await expect(page.getByTestId('notice')).toContainText('You signed out');
    await expect(page.getByTestId('toast').filter({ hasText: 'as soon as it can be reached' })).toBeVisible();

    await context.setOffline(false);
    await page.reload();
    await expect(page.locator('#username')).toBeVisible();
    await page.waitForTimeout(1_000);
    await expect(page).toHaveURL(/\/login/);
    // The server heard: the cookie's session is over.
    const refresh = await page.request.post('/api/auth/refresh', { headers: { 'X-Requested-With': 'fetch' } });
    expect(refresh.status()).toBe(401);
  });
});

test.describe('edge server', () => {
  test.use({ baseURL: url(ports.edge) });

  test('7. a hanging refresh is aborted and the tabs recover, with no reuse logout at REFRESH_GRACE=8s', async ({
    context,
  }) => {
    const a = await context.newPage();
    await signIn(a, { rememberMe: true });
    const b = await context.newPage();
    await b.goto('/');
    await expect(b.getByTestId('username')).toHaveText('alice');

    // The next refresh reaches the server (which rotates the cookie) but its answer is
    // held for 13 s: longer than the grace period.
    let hung = false;
    let hangStarted = 0;
    const hang = async (route: Route) => {
      if (hung) return route.continue();
      hung = true;
      hangStarted = Date.now();
      const response = await route.fetch();
      await new Promise((resolve) => setTimeout(resolve, 13_000));
      await route.fulfill({ response }).catch(() => {});
    };
    await context.route('**/api/auth/refresh', hang);
    const refreshes = watchRefreshes(context);
    await expect.poll(() => hung, { timeout: 10_000 }).toBe(true);
    const checksAtHang = Number(await a.getByTestId('me-checks').getAttribute('data-count'));

    await a.waitForTimeout(18_000);
    // Nobody was signed out, nobody froze.
    for (const page of [a, b]) {
      await expect(page).not.toHaveURL(/\/login/);
      await expect(page.getByTestId('username')).toHaveText('alice');
    }
    expect(Number(await a.getByTestId('me-checks').getAttribute('data-count'))).toBeGreaterThan(checksAtHang + 4);
    const after = refreshes.answers.filter((r) => r.at > hangStarted);
    expect(after.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(after.filter((r) => r.status === 401)).toEqual([]);
    await context.unroute('**/api/auth/refresh', hang);
  });

  test('8. at the absolute end: at most 2 refresh calls in the last second, then the sign-in page', async ({
    context,
    page,
  }) => {
    const refreshes = watchRefreshes(context);
    const login = await signIn(page);
    const body = await login.json();
    const end = serverSecsToLocal(body.session.absolute_expires_at, Date.now(), login.headers()['date']);
    // Nothing extends it: the dialog says so before the end, and offers no "Stay".
    const dialog = page.getByRole('dialog', { name: 'Your session is ending' });
    await expect(dialog).toBeVisible({ timeout: end - Date.now() });
    await expect(dialog.getByRole('button', { name: 'Stay signed in' })).toHaveCount(0);
    await expect(page.getByTestId('toast').filter({ hasText: 'maximum length soon' })).toBeVisible();

    await expect(page).toHaveURL(/\/login/, { timeout: end - Date.now() + 2_000 });
    await expect(page.getByTestId('notice')).toContainText('maximum length');
    // The true end is up to a second before `end` (whole seconds): look at both seconds.
    const lastSecond = refreshes.sent.filter((t) => t >= end - 2_000 && t <= end);
    test.info().annotations.push({ type: 'refreshes in the last 2 s', description: String(lastSecond.length) });
    expect(lastSecond.length).toBeLessThanOrEqual(2);
  });
});
