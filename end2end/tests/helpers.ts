import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

import { expect, type BrowserContext, type Page, type Response } from '@playwright/test';

/** Signs in through the login page, starting signed out: `/` must send us there.
 * Resolves to the login response (its body has the token's and session's times). */
/** The test users' passwords (end2end/serve.sh creates them; each meets the rules). */
export const PASSWORDS: Record<string, string> = { alice: 'alice-password', bob: 'bob-passphrase' };

export async function signIn(
  page: Page,
  { username = 'alice', password = PASSWORDS[username], rememberMe = false } = {},
): Promise<Response> {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  if (rememberMe) await page.locator('#remember-me').check();
  const login = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/login');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const response = await login;
  await expect(page.getByTestId('username')).toHaveText(username);
  return response;
}

const isRefresh = (u: string) => new URL(u).pathname === '/api/auth/refresh';

/** Every `POST /api/auth/refresh` the context sends (with the local time it was sent),
 * and every answer (with its JSON body when it is one). */
export function watchRefreshes(context: BrowserContext) {
  const sent: number[] = [];
  const answers: { at: number; status: number; date: string | undefined; body: any }[] = [];
  context.on('request', (request) => {
    if (isRefresh(request.url())) sent.push(Date.now());
  });
  context.on('response', async (response) => {
    if (!isRefresh(response.url())) return;
    const at = Date.now();
    const body = await response.json().catch(() => null);
    answers.push({ at, status: response.status(), date: response.headers()['date'], body });
  });
  return { sent, answers };
}

/** Local time (ms) of a server instant given as Unix seconds, placed with a response's
 * `Date` header (whole seconds: the true instant is up to a second earlier). */
export function serverSecsToLocal(secs: number, receivedAt: number, date: string | undefined) {
  const serverAtReceipt = date ? Date.parse(date) : receivedAt;
  return receivedAt + (secs * 1000 - serverAtReceipt);
}

/** The token can never be in storage or a script-readable cookie. */
export async function expectNoTokenStored(page: Page) {
  const stored = await page.evaluate(
    () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie,
  );
  expect(stored).not.toMatch(/eyJ/);
}

/**
 * Registers an OAuth client with the running server (`server client add`, on the
 * database serve.sh made for this port) and returns its client_id.
 */
export function registerClient(name: string, redirectUri: string): string {
  const root = path.resolve(__dirname, '..', '..');
  const server = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'debug', 'server');
  const port = process.env.E2E_PORT ?? '3100';
  const db = path.join(os.tmpdir(), `jwt-refresh-e2e-${port}`, 'e2e.db');
  const out = execFileSync(server, ['client', 'add', name, '--redirect-uri', redirectUri], {
    env: { ...process.env, DATABASE_URL: `sqlite://${db}?mode=rwc` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.toString().trim();
}
