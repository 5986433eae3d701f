import { expect, test, type Page, type Response } from '@playwright/test';

import { PASSWORDS, signIn } from './helpers';
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

test("the sign-in page is the whole first visit; the signed-in chunk comes when sign-in begins, with every page", async ({
  page,
}) => {
  const wasm: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.wasm')) wasm.push(path);
  });
  const chunks = () => wasm.filter((p) => /\/(split|chunk)_[^/]*\.wasm$/.test(p));

  // Signed out, asking for the dashboard: sent to the sign-in page, which is all of the
  // first visit (scripts/first-visit.sh counts the same files).
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('#username')).toBeVisible();
  await page.waitForLoadState('networkidle');
  expect(chunks()).toEqual([]);
  expect(wasm).toHaveLength(1);

  // The visitor's first key or click fetches the token manager's chunk, for the sign-in.
  await page.locator('#username').click();
  await expect.poll(() => chunks()).toEqual([expect.stringMatching(/\/split_signed_in-[^/]*\.wasm$/)]);

  // The pages and the dialog are in it: nothing more to fetch once signed in.
  await signIn(page);
  await page.getByRole('link', { name: 'Sessions', exact: true }).click();
  await expect(page.getByTestId('session-row').first()).toBeVisible();
  await page.getByRole('link', { name: 'Password' }).click();
  await expect(page.locator('#current-password')).toBeVisible();
  expect(new Set(chunks()).size).toBe(1);
  // Ended before the page closes (the sessions tests count this user's sessions).
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

const signedInChunk = /\/split_signed_in-[^/]*\.wasm$/;

test('a sign-in before the signed-in chunk was fetched fetches it and signs in', async ({ page }) => {
  let fetched = 0;
  page.on('request', (r) => {
    if (signedInChunk.test(new URL(r.url()).pathname)) fetched++;
  });
  await page.goto('/login');
  await expect(page.locator('#username')).toBeVisible();
  // Filled in without a key or a click: nothing fetched the chunk before the sign-in.
  await page.locator('#username').fill('alice');
  await page.locator('#password').fill(PASSWORDS.alice);
  expect(fetched).toBe(0);
  await page.locator('#password').press('Enter');
  await expect(page.getByTestId('username')).toHaveText('alice');
  expect(fetched).toBe(1);
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

test("a sign-in whose code cannot be fetched says so, and not that the server is unreachable", async ({ page }) => {
  // As in a tab opened before a deploy that removed its chunk, or offline.
  await page.route(signedInChunk, (route) => route.abort());
  await page.goto('/login');
  await page.locator('#username').fill('alice');
  await page.locator('#password').fill(PASSWORDS.alice);
  await page.locator('#password').press('Enter');
  await expect(page.getByTestId('login-error')).toContainText('reload the page');
  await page.unroute(signedInChunk);
  await page.locator('#password').fill(PASSWORDS.alice);
  await page.locator('#password').press('Enter');
  await expect(page.getByTestId('username')).toHaveText('alice');
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

test('a reload whose signed-in chunk fails to arrive says Reconnecting, fetches it again and restores the session', async ({
  page,
}) => {
  await signIn(page);
  // Routed requests skip the cache: as on a reload after a deploy, on a failing network.
  await page.route(signedInChunk, (route) => route.abort());
  await page.reload();
  await expect(page.getByTestId('restoring')).toContainText('Reconnecting');
  await page.unroute(signedInChunk);
  await expect(page.getByTestId('username')).toHaveText('alice');
  await expect(page.getByText('Back online.')).toBeVisible();
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
});

// The consent page is the one page a signed-out visitor fetches code for; it sends them
// to sign in first, and back.
const consentSignIn = /\/login\?next=%2Foauth%2Fauthorize$/;

test('a page whose code cannot be fetched says so, and Try again brings it', async ({ page }) => {
  // As when offline, or when a deploy has replaced the build this tab runs.
  await page.route(signedInChunk, (route) => route.abort());
  await page.goto('/oauth/authorize');
  await expect(page.getByTestId('page-unavailable')).toContainText('This page could not be loaded');
  // The rest of the app still works: no panic took the module down.
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('#username')).toBeVisible();
  await page.goto('/oauth/authorize');
  await expect(page.getByTestId('page-unavailable')).toBeVisible();

  await page.unroute(signedInChunk);
  await page.getByRole('button', { name: 'Try again' }).click();
  // The consent page's code ran: it sends a signed-out visitor to sign in first.
  await expect(page).toHaveURL(consentSignIn);
});

test('a page whose code fails to arrive once is fetched again, unnoticed', async ({ page }) => {
  // A blip of the network, or an instance of a rolling upgrade without this build yet.
  let refused = 0;
  await page.route(signedInChunk, (route) => (refused++ === 0 ? route.abort() : route.continue()));
  // Unnoticed: the message is never on screen, not even for a moment.
  await page.addInitScript(() => {
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="page-unavailable"]')) (window as any).__unavailable = true;
    }).observe(document, { childList: true, subtree: true });
  });
  await page.goto('/oauth/authorize');
  await expect(page).toHaveURL(consentSignIn);
  expect(refused).toBe(2);
  expect(await page.evaluate(() => (window as any).__unavailable ?? false)).toBe(false);
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
