import { expect, test } from '@playwright/test';

import { signIn } from './helpers';

// The server runs with ACCESS_TTL=3s (serve.sh), so a silent refresh is due every
// couple of seconds and a test of ten seconds sees several.

test('stays signed in across access-token expiry, reload, and logs out', async ({ page }) => {
  const refreshes: number[] = [];
  const meStatuses: number[] = [];
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    if (path === '/api/auth/refresh') refreshes.push(response.status());
    if (path === '/api/me') meStatuses.push(response.status());
  });

  await signIn(page);
  const refreshesAtLogin = refreshes.length;

  // Ten seconds on the dashboard while it keeps asking /api/me.
  await page.waitForTimeout(10_000);
  await expect(page.getByTestId('error')).toHaveCount(0);
  const checks = Number(await page.getByTestId('me-checks').getAttribute('data-count'));
  expect(checks).toBeGreaterThanOrEqual(4);
  expect(meStatuses.filter((s) => s === 401)).toEqual([]);
  const silent = refreshes.slice(refreshesAtLogin);
  expect(silent.length).toBeGreaterThanOrEqual(2);
  expect(silent.every((s) => s === 200)).toBe(true);

  // A reload restores the session from the cookie, without showing the login page.
  const seen: string[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) seen.push(new URL(frame.url()).pathname);
  });
  await page.reload();
  await expect(page.getByTestId('username')).toHaveText('alice');
  expect(seen.filter((p) => p.startsWith('/login'))).toEqual([]);

  // The token is only ever in memory.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  expect(stored).not.toMatch(/eyJ/);

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.reload();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('#username')).toBeVisible();
});

test('a wrong password is explained and nothing is signed in', async ({ page }) => {
  await page.goto('/login');
  await page.locator('#username').fill('bob');
  await page.locator('#password').fill('not-his-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Wrong username or password');
  await expect(page).toHaveURL(/\/login/);
});
