import { expect, test } from '@playwright/test';

import { signIn } from '../tests/helpers';

// Through the real Netlify CLI (deploy/netlify/serve.sh), in front of the server or (the
// serverless run) the lambda function under the emulator: the page comes from Netlify's
// static server with netlify.toml's headers, /api/* from the server behind the
// generated _redirects, the refresh cookie first-party on Netlify's origin.

const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

test('sign in, a silent refresh, reload, sign out: all through Netlify', async ({ page, baseURL }) => {
  const refreshes: number[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    // Every API call goes to the site's own origin: the proxy, not the server directly.
    if (url.pathname.startsWith('/api/')) expect(url.origin).toBe(baseURL);
    if (url.pathname === '/api/auth/refresh') refreshes.push(response.status());
  });

  await signIn(page);
  const cookies = await page.context().cookies();
  const refresh = cookies.find((c) => c.name === 'refresh_token');
  expect(refresh?.domain).toBe(new URL(baseURL!).hostname);
  expect(refresh?.httpOnly).toBe(true);
  expect(refresh?.path).toBe('/api/auth');

  // Tokens live 3 s (serve.sh): a silent refresh comes within a few seconds.
  const before = refreshes.length;
  await expect.poll(() => refreshes.slice(before).filter((s) => s === 200).length, { timeout: 10_000 }).toBeGreaterThan(0);
  await expect(page.getByTestId('username')).toHaveText('alice');

  // A reload is Netlify's index.html again; the cookie restores the session.
  await page.reload();
  await expect(page.getByTestId('username')).toHaveText('alice');

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.reload();
  await expect(page.locator('#username')).toBeVisible();
  expect(refreshes.filter((s) => s >= 500)).toEqual([]);
});

test('headers on what the Netlify CLI serves: CSP on pages and assets, the API answered by the server', async ({ request }) => {
  const page = await request.get('/sessions'); // a client route: index.html
  expect(page.status()).toBe(200);
  expect(page.headers()['content-type']).toContain('text/html');
  const html = await page.text();
  for (const response of [page, await request.get('/'), await request.get('/favicon.svg')]) {
    expect(response.headers()['content-security-policy']).toBe(CSP);
    expect(response.headers()['x-content-type-options']).toBe('nosniff');
    expect(response.headers()['x-frame-options']).toBe('DENY');
    expect(response.headers()['referrer-policy']).toBe('no-referrer');
  }
  // Quoted or not: the release build minifies the page.
  const assets = [...html.matchAll(/(?:href|src)="?(\/[^"\s>]+\.(?:js|css|wasm))"?/g)].map((m) => m[1]);
  expect(assets.length).toBeGreaterThanOrEqual(3);
  for (const asset of assets) {
    const response = await request.get(asset);
    expect(response.status(), asset).toBe(200);
    expect(response.headers()['content-security-policy'], asset).toBe(CSP);
  }

  // Proxied, not the SPA: the server's JSON error, with the server's own headers
  // (Netlify applies no custom headers to proxied responses).
  for (const path of ['/api/auth/session', '/api/oauth/nothing-yet']) {
    const api = await request.get(path);
    expect(api.headers()['content-type'], path).toContain('application/json');
    expect(api.headers()['content-security-policy'], path).toBe(CSP);
  }
  const jwks = await request.get('/.well-known/jwks.json');
  expect(jwks.status()).toBe(200);
  expect((await jwks.json()).keys.length).toBeGreaterThan(0);
});
