import { expect, test } from '@playwright/test';

import { serverSecsToLocal, signIn, watchRefreshes } from './helpers';
import { ports, url } from './servers';

// Issue 8, scenarios 1–3: idle means the user is idle. This server has ACCESS_TTL=4s and
// IDLE_TTL=24s, so the "Stay signed in?" warning leads the idle end by 8 s (a third of
// the idle window) and a whole idle session fits in a test.

test.describe.configure({ timeout: 120_000 });

test.describe('idle server', () => {
  test.use({ baseURL: url(ports.idle) });

  test('1. activity in another tab keeps an unattended tab signed in; without it, the warning comes at the lead time and the sign-in page at the idle end', async ({
    context,
  }) => {
    const refreshes = watchRefreshes(context);
    const a = await context.newPage();
    await signIn(a);
    const b = await context.newPage();
    await b.goto('/');
    await expect(b.getByTestId('username')).toHaveText('alice');

    // 30 s (longer than the idle lifetime) with the user clicking in B only: A never
    // warns, never signs out.
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      await b.getByRole('heading', { level: 1 }).click();
      await a.waitForTimeout(2_000);
      await expect(a.getByRole('dialog')).toHaveCount(0);
    }
    await expect(a.getByTestId('username')).toHaveText('alice');
    const active = refreshes.answers.filter((r) => r.status === 200);
    expect(active.length).toBeGreaterThanOrEqual(5);

    // Now nobody touches anything. The idle end stops moving (scheduled refreshes say
    // `active: false`); read it from the latest refresh answer once the warning is up.
    const dialog = a.getByRole('dialog', { name: 'Stay signed in?' });
    await expect(dialog).toBeVisible({ timeout: 30_000 });
    const shownAt = Date.now();
    const last = refreshes.answers.filter((r) => r.status === 200).at(-1)!;
    const idleEnd = serverSecsToLocal(last.body.session.idle_expires_at, last.at, last.date);
    // At the lead time (8 s), give or take the second the server's clock is rounded to
    // and a tick of the countdown.
    expect(idleEnd - shownAt).toBeGreaterThan(8_000 - 2_500);
    expect(idleEnd - shownAt).toBeLessThan(8_000 + 1_500);
    await expect(b.getByRole('dialog', { name: 'Stay signed in?' })).toBeVisible();

    // At the end every tab goes to the sign-in page, within a second, saying why.
    await expect(a).toHaveURL(/\/login/, { timeout: idleEnd - Date.now() + 1_500 });
    await expect(b).toHaveURL(/\/login/, { timeout: 1_000 });
    for (const page of [a, b]) {
      await expect(page.getByTestId('notice')).toContainText('inactivity');
    }
  });

  test('2. at 0:00 the session ends at once', async ({ page }) => {
    const me: { at: number; status: number }[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/api/me') me.push({ at: Date.now(), status: response.status() });
    });
    await signIn(page);
    // The header's countdown reaches its last second (no activity: nothing slides it).
    const countdown = page.getByTestId('countdown');
    await expect(countdown).toHaveText(/0:0[01]$/, { timeout: 40_000 });
    const zero = Date.now();
    await expect(page).toHaveURL(/\/login/, { timeout: 2_500 });
    await expect(page.getByTestId('notice')).toContainText('inactivity');
    // Nothing kept working past the end.
    expect(me.filter((r) => r.status === 200 && r.at > zero + 1_500)).toEqual([]);
  });
});

test.describe('main server', () => {
  test.use({ baseURL: url(ports.main) });

  test('3. a wall-clock jump of +1 h shows no dialog and signs nobody out: the server is asked first', async ({ page }) => {
    // The page's wall clock can be moved; `performance.now()` cannot (as in a browser
    // whose system clock is changed).
    await page.addInitScript(() => {
      const realNow = Date.now.bind(Date);
      let skew = 0;
      Date.now = () => realNow() + skew;
      (window as any).__jumpClock = (ms: number) => (skew += ms);
    });
    const statusChecks: number[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/api/auth/session') statusChecks.push(response.status());
    });
    await signIn(page);
    await expect(page.getByTestId('countdown')).toHaveText(/(30|29):\d\d$/);

    await page.evaluate(() => (window as any).__jumpClock(3_600_000));
    // The jump is noticed at the next tick and checked with the server.
    await expect.poll(() => statusChecks.length, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(statusChecks.every((s) => s === 200)).toBe(true);
    for (let i = 0; i < 6; i++) {
      await page.waitForTimeout(1_000);
      await expect(page.getByRole('dialog')).toHaveCount(0);
      await expect(page.getByTestId('username')).toHaveText('alice');
    }
    await expect(page.getByTestId('countdown')).toHaveText(/(30|29):\d\d$/);

    // And back: still nothing.
    await page.evaluate(() => (window as any).__jumpClock(-3_600_000));
    await page.waitForTimeout(4_000);
    await expect(page.getByRole('dialog')).toHaveCount(0);
    await expect(page).not.toHaveURL(/\/login/);
    await expect(page.getByTestId('error')).toHaveCount(0);
    // Other tests on this server count sessions: end this one.
    await page.getByTestId('logout').click();
    await expect(page).toHaveURL(/\/login/);
  });
});
