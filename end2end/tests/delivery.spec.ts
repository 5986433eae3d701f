import { expect, test, type Page, type Response } from '@playwright/test';

import { signIn } from './helpers';
import { ports, url } from './servers';

// Issue 10, delivery: precompressed assets by Accept-Encoding, immutable caching for
// hashed assets, a revalidated page; and two figures for docs/BENCHMARKS.md, measured and
// reported, never asserted: the reload to the dashboard, the signed-out sign-in page.

test.use({ baseURL: url(ports.main) });

test('the app is sent brotli-compressed and cached for a year; the page is revalidated', async ({ page }) => {
  const responses: Response[] = [];
  page.on('response', (r) => responses.push(r));
  await page.goto('/login');
  await expect(page.locator('#username')).toBeVisible();

  const find = (suffix: string) => {
    const found = responses.find((r) => new URL(r.url()).pathname.endsWith(suffix));
    expect(found, `a response for *${suffix}`).toBeTruthy();
    return found!;
  };
  const immutable = 'public, max-age=31536000, immutable';
  for (const suffix of ['_bg.wasm', '.css']) {
    const headers = await find(suffix).allHeaders();
    expect(headers['content-encoding'], suffix).toBe('br');
    expect(headers['cache-control'], suffix).toBe(immutable);
  }
  const scripts = responses.filter((r) => new URL(r.url()).pathname.endsWith('.js'));
  expect(scripts.length).toBeGreaterThanOrEqual(2);
  for (const script of scripts) expect((await script.allHeaders())['cache-control']).toBe(immutable);
  expect((await find('/login').allHeaders())['cache-control']).toBe('no-cache');

  // Browsers without brotli get gzip; clients that ask for nothing get the file itself.
  const wasm = new URL(find('_bg.wasm').url()).pathname;
  const gzip = await page.request.get(wasm, { headers: { 'Accept-Encoding': 'gzip' } });
  expect(gzip.headers()['content-encoding']).toBe('gzip');
  const plain = await page.request.get(wasm, { headers: { 'Accept-Encoding': 'identity' } });
  expect(plain.headers()['content-encoding']).toBeUndefined();
  expect(plain.headers()['content-type']).toBe('application/wasm');
});

test("the sign-in page fetches no page's chunk; a page's chunk comes when it is first shown", async ({ page }) => {
  const wasm: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.wasm')) wasm.push(path);
  });
  const chunks = () => wasm.filter((p) => /\/(split|chunk)_[^/]*\.wasm$/.test(p));
  const of = (name: string) => wasm.some((p) => p.includes(`/split_page_${name}-`));

  // Signed out, asking for the dashboard: sent to the sign-in page, which is all of the
  // first visit (scripts/first-visit.sh counts the same files).
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('#username')).toBeVisible();
  expect(chunks()).toEqual([]);
  expect(wasm).toHaveLength(1);

  await signIn(page);
  expect(of('dashboard')).toBe(true);
  expect(of('sessions')).toBe(false);
  await page.getByRole('link', { name: 'Sessions', exact: true }).click();
  await expect(page.getByTestId('session-row').first()).toBeVisible();
  expect(of('sessions')).toBe(true);
  // Ended before the page closes (the sessions tests count this user's sessions).
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

test('a page whose code cannot be fetched says so, and Try again brings it', async ({ page }) => {
  await signIn(page);
  // As when offline, or when a deploy has replaced the build this tab runs.
  await page.route(/\/split_page_password-[^/]*\.wasm$/, (route) => route.abort());
  await page.getByRole('link', { name: 'Password' }).click();
  await expect(page.getByTestId('page-unavailable')).toContainText('This page could not be loaded');
  // The rest of the app still works: no panic took the module down.
  await expect(page.getByRole('banner')).toContainText('Signed in as alice');
  await page.getByRole('link', { name: 'Sessions', exact: true }).click();
  await expect(page.getByTestId('session-row').first()).toBeVisible();
  await page.getByRole('link', { name: 'Password' }).click();
  await expect(page.getByTestId('page-unavailable')).toBeVisible();

  await page.unroute(/\/split_page_password-[^/]*\.wasm$/);
  await page.getByRole('button', { name: 'Try again' }).click();
  await expect(page.locator('#current-password')).toBeVisible();
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

test('a page whose code fails to arrive once is fetched again, unnoticed', async ({ page }) => {
  await signIn(page);
  // A blip of the network, or an instance of a rolling upgrade without this build yet.
  let refused = 0;
  await page.route(/\/split_page_password-[^/]*\.wasm$/, (route) =>
    refused++ === 0 ? route.abort() : route.continue(),
  );
  // Unnoticed: the message is never on screen, not even for a moment.
  await page.evaluate(() => {
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="page-unavailable"]')) (window as any).__unavailable = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
  await page.getByRole('link', { name: 'Password' }).click();
  await expect(page.locator('#current-password')).toBeVisible();
  expect(refused).toBe(2);
  expect(await page.evaluate(() => (window as any).__unavailable ?? false)).toBe(false);
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

/// Reloads `page` `times` times and reports the median moment `selector` came on screen
/// with text, from the navigation's start (performance.timeOrigin), as seen by the page
/// itself rather than by polling.
async function measureShown(page: Page, selector: string, name: string, times: number) {
  await page.addInitScript((selector) => {
    const observer = new MutationObserver(() => {
      if (document.querySelector(selector)?.textContent) {
        (window as any).__shownAt = performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document, { childList: true, subtree: true, characterData: true });
  }, selector);
  const runs: number[] = [];
  for (let i = 0; i < times; i++) {
    await page.reload();
    await page.locator(selector).waitFor();
    await expect.poll(() => page.evaluate(() => (window as any).__shownAt)).toBeDefined();
    runs.push(await page.evaluate(() => (window as any).__shownAt));
  }
  runs.sort((a, b) => a - b);
  const median = runs[Math.floor(runs.length / 2)];
  const report = `median ${median.toFixed(0)} ms, min ${runs[0].toFixed(0)} ms, max ${runs.at(-1)!.toFixed(0)} ms (${times} reloads)`;
  test.info().annotations.push({ type: name, description: report });
  console.log(`${name}: ${report}`);
}

test('reload of a signed-in page to the dashboard showing the user (measured)', async ({ page }) => {
  await signIn(page);
  await expect(page.getByTestId('username')).toHaveText('alice');
  await measureShown(page, '[data-testid="username"]', 'reload to dashboard', 10);
  // Ended before the page closes (the sessions tests count this user's sessions).
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

test("a signed-out visitor's sign-in page on screen (measured)", async ({ page }) => {
  await page.goto('/login');
  await measureShown(page, 'label[for="username"]', 'signed-out sign-in page', 15);
});
