import { createHash, randomBytes } from 'node:crypto';

import { expect, test, type Page } from '@playwright/test';

import { registerClient } from './helpers';

// An app signing a user in through the browser (RFC 6749 code flow, RFC 7636 PKCE,
// RFC 8252 loopback redirect). The app registered `http://127.0.0.1/callback` and
// listens on a port of its choosing (any port matches on loopback); nothing really
// listens there: the test intercepts the navigation, as the app's listener would get it.
const port = Number(process.env.E2E_PORT ?? 3100);
const REDIRECT = `http://127.0.0.1:${port + 1}/callback`;

const b64url = (bytes: Buffer) => bytes.toString('base64url');

/** What an app prepares before sending the user to the authorization page. */
function authorizationRequest(clientId: string) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(16));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'profile:read',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return { verifier, state, url: `/oauth/authorize?${query}` };
}

/** Resolves with the URL the browser is sent to at the app's redirect URI. */
async function catchRedirect(page: Page): Promise<() => URL> {
  let caught: URL | undefined;
  await page.route(`${REDIRECT}**`, async (route) => {
    caught = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>The app has the code.</p>' });
  });
  return () => {
    if (!caught) throw new Error('the browser never reached the redirect URI');
    return caught;
  };
}

async function signInHere(page: Page) {
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.locator('#username').fill('bob');
  await page.locator('#password').fill('bob-passphrase');
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an app signs the user in with the code flow and PKCE, then refreshes', async ({ page, request, baseURL }) => {
  const clientId = registerClient('Photo Printer', 'http://127.0.0.1/callback');
  const { verifier, state, url } = authorizationRequest(clientId);
  const redirected = await catchRedirect(page);

  // Signed out: the sign-in form first, then back to the request.
  await page.goto(url);
  await signInHere(page);
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await expect(page.getByTestId('consent')).toHaveText('Photo Printer wants to access your account.');
  await expect(page.getByTestId('scopes')).toContainText('See your username');
  await page.getByRole('button', { name: 'Allow' }).click();

  // Back at the app's loopback URI with the code and the app's own state.
  await page.waitForURL(`${REDIRECT}**`);
  const callback = redirected();
  expect(callback.searchParams.get('state')).toBe(state);
  expect(callback.searchParams.get('iss')).toBe(baseURL);
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();

  // The app exchanges the code with its verifier at the token endpoint.
  const exchange = {
    grant_type: 'authorization_code',
    code: code!,
    redirect_uri: REDIRECT,
    client_id: clientId,
    code_verifier: verifier,
  };
  const response = await request.post('/api/oauth/token', { form: exchange });
  expect(response.status()).toBe(200);
  expect(response.headers()['cache-control']).toBe('no-store');
  const tokens = await response.json();
  expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'profile:read' });
  const me = await request.get('/api/me', { headers: { Authorization: `Bearer ${tokens.access_token}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).username).toBe('bob');

  // It refreshes there too, and gets a rotated refresh token.
  const refreshed = await request.post('/api/oauth/token', {
    form: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId },
  });
  expect(refreshed.status()).toBe(200);
  const next = await refreshed.json();
  expect(next.refresh_token).not.toBe(tokens.refresh_token);
  const meAgain = await request.get('/api/me', { headers: { Authorization: `Bearer ${next.access_token}` } });
  expect(meAgain.status()).toBe(200);

  // A code is good once.
  const replay = await request.post('/api/oauth/token', { form: exchange });
  expect(replay.status()).toBe(400);
  expect((await replay.json()).error).toBe('invalid_grant');
});

test('Deny sends the user back to the app with access_denied and no code', async ({ page }) => {
  const clientId = registerClient('Nosy App', 'http://127.0.0.1/callback');
  const { state, url } = authorizationRequest(clientId);
  const redirected = await catchRedirect(page);
  await page.goto(url);
  await signInHere(page);
  await expect(page.getByTestId('consent')).toContainText('Nosy App');
  await page.getByRole('button', { name: 'Deny' }).click();
  await page.waitForURL(`${REDIRECT}**`);
  const callback = redirected();
  expect(callback.searchParams.get('error')).toBe('access_denied');
  expect(callback.searchParams.get('state')).toBe(state);
  expect(callback.searchParams.get('code')).toBeNull();
});

test('a request from an unregistered app is explained on the page, never redirected', async ({ page }) => {
  const { url } = authorizationRequest('no-such-client');
  const redirected = await catchRedirect(page);
  await page.goto(url);
  await signInHere(page);
  await expect(page.getByTestId('authorize-error')).toContainText('not registered');
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await expect(page.getByRole('button', { name: 'Allow' })).toHaveCount(0);
  expect(redirected).toThrow();
});
